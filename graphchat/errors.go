package graphchat

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

// Categories of service errors, for errors.Is. An *Error matches the one of
// its status code.
var (
	ErrBadRequest   = errors.New("graphchat: bad request")          // 400 and other 4xx not listed below
	ErrUnauthorized = errors.New("graphchat: unauthorized")         // 401
	ErrForbidden    = errors.New("graphchat: forbidden")            // 403
	ErrNotFound     = errors.New("graphchat: not found")            // 404
	ErrThrottled    = errors.New("graphchat: throttled")            // 429
	ErrServer       = errors.New("graphchat: server error")         // 5xx
	ErrUndeclared   = errors.New("graphchat: undeclared operation") // an operation not in Options.Operations
)

// Error is an error answered by Microsoft Graph. It is built from the SDK's
// *odataerrors.ODataError or *abstractions.ApiError, which Unwrap returns.
// It never holds a token or a request body.
type Error struct {
	Op              string        // the graphchat operation, such as "create-chat"
	StatusCode      int           // HTTP status
	Code            string        // Graph's error code, such as "BadRequest"; code against it, not Message
	Message         string        // Graph's message
	RequestID       string        // request-id, for Microsoft support
	ClientRequestID string        // client-request-id sent with the request
	RetryAfter      time.Duration // from Retry-After, when present
	Err             error         // the SDK error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "graphchat: %s: %d %s", e.Op, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " [request-id %s]", e.RequestID)
	}
	return b.String()
}

// Unwrap returns the SDK error.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the category of the error's status code.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrThrottled:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrServer:
		return e.StatusCode >= 500
	case ErrBadRequest:
		switch e.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests:
			return false
		}
		return e.StatusCode >= 400 && e.StatusCode < 500
	}
	return false
}

// translate is the one place where SDK errors become *Error. Other errors
// (transport, context, policy) are wrapped with the operation's name; a
// policy.List is returned untouched. An *Error built by graphchat's pipeline
// from a body the SDK cannot read (see errorBodyHandler) gets the
// operation's name.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	var ge *Error
	if errors.As(err, &ge) && ge != nil {
		out := *ge
		out.Op = op
		return &out
	}
	var odata *odataerrors.ODataError
	if errors.As(err, &odata) && odata != nil {
		e := &Error{Op: op, StatusCode: odata.ResponseStatusCode, Err: err}
		if main := odata.GetErrorEscaped(); main != nil {
			e.Code = deref(main.GetCode())
			e.Message = deref(main.GetMessage())
			if inner := main.GetInnerError(); inner != nil {
				e.RequestID = deref(inner.GetRequestId())
				e.ClientRequestID = deref(inner.GetClientRequestId())
			}
		}
		fromHeaders(e, odata.GetResponseHeaders())
		return e
	}
	var api *abs.ApiError
	if errors.As(err, &api) && api != nil {
		// The SDK's message ("...with no response body: 500") is not the
		// service's: the service said nothing but its status and headers.
		e := &Error{Op: op, StatusCode: api.ResponseStatusCode, Err: err}
		fromHeaders(e, api.GetResponseHeaders())
		return e
	}
	return fmt.Errorf("graphchat: %s: %w", op, err)
}

func fromHeaders(e *Error, h *abs.ResponseHeaders) {
	if h == nil {
		return
	}
	get := func(name string) string {
		if v := h.Get(name); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if e.RequestID == "" {
		e.RequestID = get("request-id")
	}
	if e.ClientRequestID == "" {
		e.ClientRequestID = get("client-request-id")
	}
	e.RetryAfter, _ = parseRetryAfter(get("Retry-After"), time.Now())
}

// errorFromBody builds the *Error of a failed answer from what the service
// sent: its status, headers and body. A JSON error body (whatever its
// declared type) gives Graph's code, message and, from its innerError,
// request-id and client-request-id; another text/plain body is the message
// (its first 512 bytes, on one line); other bodies (such as a proxy's HTML
// page) give no message. Headers give request-id and client-request-id when the
// body does not, and Retry-After. graphchat's pipeline uses it for the
// error bodies the SDK cannot read.
func errorFromBody(op string, status int, header http.Header, body []byte) *Error {
	e := &Error{Op: op, StatusCode: status}
	var doc struct {
		Error *struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError *struct {
				RequestID       string `json:"request-id"`
				ClientRequestID string `json:"client-request-id"`
			} `json:"innerError"` // matches "innererror" too
		} `json:"error"`
	}
	switch {
	case json.Unmarshal(body, &doc) == nil && doc.Error != nil:
		e.Code, e.Message = doc.Error.Code, doc.Error.Message
		if in := doc.Error.InnerError; in != nil {
			e.RequestID, e.ClientRequestID = in.RequestID, in.ClientRequestID
		}
	case mediaType(header.Get("Content-Type")) == "text/plain":
		e.Message = plainText(body, 512)
	}
	h := abs.NewResponseHeaders()
	for k, vs := range header {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	fromHeaders(e, h)
	return e
}

// mediaType returns a Content-Type's media type, in lower case.
func mediaType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// plainText returns at most n bytes of a text body, as valid UTF-8 on one
// line.
func plainText(body []byte, n int) string {
	if len(body) > n {
		body = body[:n]
	}
	s := strings.ToValidUTF8(string(body), "")
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return strings.TrimSpace(strings.Join(strings.Fields(s), " "))
}

// parseRetryAfter reads a Retry-After value: seconds, possibly decimal
// ("2.128"), or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s < 0 || s > 24*3600 {
			return 0, false
		}
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
