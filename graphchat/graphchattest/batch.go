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

// batch answers POST /$batch: every inner request is answered on its own
// (authorized, rate limited), in order, with 424 for a request whose
// dependency failed.
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
		return e.graphError(q, http.StatusBadRequest, "BadRequest", "Invalid batch payload: want {\"requests\": [...]}.", nil)
	}
	k := unknownProperty(top, batchProperties)
	for i := 0; k == "" && i < len(raw.Requests); i++ {
		k = unknownProperty(raw.Requests[i], batchItemProperties)
	}
	if k != "" {
		return e.graphError(q, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid batch payload: unknown property '%s'.", k), nil)
	}
	if n := len(in.Requests); n == 0 || n > MaxBatchRequests {
		return e.graphError(q, http.StatusBadRequest, "BadRequest", fmt.Sprintf("A batch holds 1 to %d requests, found %d.", MaxBatchRequests, n), nil)
	}
	seen := map[string]bool{}
	for _, r := range in.Requests {
		if r.ID == "" || seen[r.ID] {
			return e.graphError(q, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Batch request ids must be present and unique: %q.", r.ID), nil)
		}
		seen[r.ID] = true
		if !knownMethod(r.Method) {
			return e.graphError(q, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Batch request %q has an invalid method %q: want GET, POST, PUT, PATCH or DELETE.", r.ID, r.Method), nil)
		}
		if len(r.Body) > 0 && !strings.EqualFold(headerValue(r.Headers, "Content-Type"), "application/json") {
			return e.graphError(q, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Batch request %q has a body but no Content-Type header.", r.ID), nil)
		}
	}
	status := map[string]int{}
	out := make([]batchResponse, 0, len(in.Requests))
	for _, r := range in.Requests {
		failed := ""
		for _, d := range r.DependsOn {
			if s, ok := status[d]; !ok || s >= 400 {
				failed = d
			}
		}
		var br batchResponse
		if failed != "" {
			inner := &request{r: q.r, requestID: newID(), clientRequestID: q.clientRequestID, batch: true}
			resp := e.graphError(inner, http.StatusFailedDependency, "FailedDependency", fmt.Sprintf("Request %q depends on %q, which failed.", r.ID, failed), nil)
			br = toBatchResponse(r.ID, resp)
		} else {
			br = e.innerRequest(q, r)
		}
		status[r.ID] = br.Status
		out = append(out, br)
	}
	return e.jsonResponse(http.StatusOK, map[string]any{"responses": out}, nil)
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
