package graphchat

import (
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
// policy.List is returned untouched.
func translate(op string, err error) error {
	if err == nil {
		return nil
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
		e := &Error{Op: op, StatusCode: api.ResponseStatusCode, Message: api.Message, Err: err}
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
