package graphchattest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// MaxBatchRequests is the most requests one JSON batch may hold.
const MaxBatchRequests = 20

type batchRequest struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

type batchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

// batch answers POST /$batch as JSON batching describes it: at most
// MaxBatchRequests requests with unique ids, a known method and a relative
// url, a Content-Type header with any body, dependsOn naming requests of the
// batch. Each request is answered on its own (authorized, throttled), after
// those it depends on, with 424 when one of them failed.
func (e *Emulator) batch(q *request) *response {
	body, resp := e.readBody(q)
	if resp != nil {
		return resp
	}
	var in struct {
		Requests []batchRequest `json:"requests"`
	}
	var raw struct {
		Requests []map[string]json.RawMessage `json:"requests"`
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil || json.Unmarshal(body, &raw) != nil || json.Unmarshal(body, &in) != nil || in.Requests == nil {
		return e.badRequest(q, "Invalid batch payload: want {\"requests\": [...]}.")
	}
	k := unknownProperty(top, batchProperties)
	for i := 0; k == "" && i < len(raw.Requests); i++ {
		k = unknownProperty(raw.Requests[i], batchItemProperties)
	}
	if k != "" {
		return e.badRequest(q, fmt.Sprintf("Invalid batch payload: unknown property '%s'.", k))
	}
	if n := len(in.Requests); n == 0 || n > MaxBatchRequests {
		return e.badRequest(q, fmt.Sprintf("A batch holds 1 to %d requests, found %d.", MaxBatchRequests, n))
	}
	bad := func(format string, args ...any) *response {
		return e.badRequest(q, fmt.Sprintf(format, args...))
	}
	index := map[string]int{}
	for i, r := range in.Requests {
		if _, dup := index[r.ID]; r.ID == "" || dup {
			return bad("Batch request ids must be present and unique: %q.", r.ID)
		}
		index[r.ID] = i
		if !knownMethod(r.Method) {
			return bad("Batch request %q has an invalid method %q: want GET, POST, PUT, PATCH or DELETE.", r.ID, r.Method)
		}
		if r.URL == "" {
			return bad("Batch request %q has no url.", r.ID)
		}
		if len(r.Body) > 0 && headerValue(r.Headers, "Content-Type") == "" {
			return bad("Write request id : %s does not contain Content-Type header or body.", r.ID)
		}
	}
	order, msg := batchOrder(in.Requests, index)
	if msg != "" {
		return bad("%s", msg)
	}
	status := map[string]int{}
	answers := make([]batchResponse, len(in.Requests))
	for _, i := range order {
		r := in.Requests[i]
		failed := ""
		for _, d := range r.DependsOn {
			if status[d] >= 400 {
				failed = d
			}
		}
		var br batchResponse
		if failed != "" {
			inner := &request{r: q.r, requestID: newID(), clientRequestID: q.clientRequestID, batch: true}
			resp := e.graphError(inner, http.StatusFailedDependency, genericCode(http.StatusFailedDependency), fmt.Sprintf("Request %q depends on %q, which failed.", r.ID, failed), nil)
			br = toBatchResponse(r.ID, resp)
		} else {
			br = e.innerRequest(q, r)
		}
		status[r.ID] = br.Status
		answers[i] = br
	}
	out := answers
	return e.jsonResponse(http.StatusOK, map[string]any{"responses": out}, nil)
}

// batchOrder returns the order to answer requests in: each after those it
// depends on, otherwise in the order given. It refuses a dependency on an
// id not in the batch and a cycle.
func batchOrder(reqs []batchRequest, index map[string]int) ([]int, string) {
	for _, r := range reqs {
		for _, d := range r.DependsOn {
			if _, ok := index[d]; !ok {
				return nil, fmt.Sprintf("Batch request %q depends on %q, which is not in the batch.", r.ID, d)
			}
		}
	}
	done := make([]bool, len(reqs))
	var order []int
	for len(order) < len(reqs) {
		progress := false
		for i, r := range reqs {
			if done[i] {
				continue
			}
			ready := true
			for _, d := range r.DependsOn {
				ready = ready && done[index[d]]
			}
			if ready {
				done[i], progress = true, true
				order = append(order, i)
			}
		}
		if !progress {
			return nil, "Batch requests depend on each other in a cycle."
		}
	}
	return order, ""
}

// knownMethod reports whether m is a method Graph's chat endpoints answer;
// the check is case-insensitive, as batch items are seen written "get".
func knownMethod(m string) bool {
	switch strings.ToUpper(m) {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

func headerValue(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return strings.TrimSpace(strings.Split(v, ";")[0])
		}
	}
	return ""
}

// innerRequest answers one request of a batch through the emulator itself.
func (e *Emulator) innerRequest(q *request, r batchRequest) batchResponse {
	rel := r.URL
	if strings.HasPrefix(rel, "http://") || strings.HasPrefix(rel, "https://") {
		inner := &request{r: q.r, requestID: newID(), batch: true}
		return toBatchResponse(r.ID, e.graphError(inner, http.StatusBadRequest, "BadRequest", "Batch request URLs must be relative.", nil))
	}
	u, err := url.Parse("/" + q.version + "/" + strings.TrimPrefix(rel, "/"))
	if err != nil {
		inner := &request{r: q.r, requestID: newID(), batch: true}
		return toBatchResponse(r.ID, e.graphError(inner, http.StatusBadRequest, "BadRequest", "Invalid request URL.", nil))
	}
	hr, err := http.NewRequestWithContext(q.r.Context(), strings.ToUpper(r.Method), u.String(), bytes.NewReader(r.Body))
	if err != nil {
		inner := &request{r: q.r, requestID: newID(), batch: true}
		return toBatchResponse(r.ID, e.graphError(inner, http.StatusBadRequest, "BadRequest", "Invalid request URL.", nil))
	}
	hr.Host = q.r.Host
	hr.RemoteAddr = q.r.RemoteAddr
	for k, v := range r.Headers {
		hr.Header.Set(k, v)
	}
	if a := q.r.Header.Get("Authorization"); a != "" {
		hr.Header.Set("Authorization", a)
	}
	crid := hr.Header.Get("client-request-id")
	if crid == "" {
		crid = q.clientRequestID
	}
	inner := &request{r: hr, requestID: newID(), clientRequestID: crid, batch: true}
	start := time.Now()
	var resp *response
	if wait, limited := e.takeToken(); limited {
		resp = e.graphError(inner, http.StatusTooManyRequests, "TooManyRequests", "Too many requests, retry after the time in Retry-After.",
			http.Header{"Retry-After": {formatSeconds(wait)}})
	} else {
		resp = e.guard(inner, func() *response { return e.route(inner) })
	}
	e.record(inner, resp.status, start, FaultNone)
	br := toBatchResponse(r.ID, resp)
	br.Headers["request-id"] = inner.requestID
	return br
}

func toBatchResponse(id string, r *response) batchResponse {
	br := batchResponse{ID: id, Status: r.status, Headers: map[string]string{}}
	for k, v := range r.header {
		br.Headers[k] = strings.Join(v, ", ")
	}
	if len(r.body) > 0 {
		br.Body = r.body
		if _, ok := br.Headers["Content-Type"]; !ok {
			br.Headers["Content-Type"] = "application/json"
		}
	}
	return br
}
