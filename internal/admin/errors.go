package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Code is the stable identifier of an API error, sent as error.code.
type Code string

// Error codes and their HTTP statuses.
const (
	CodeBadRequest       Code = "bad_request"        // 400: malformed JSON, a missing or invalid field or parameter
	CodeUnauthorized     Code = "unauthorized"       // 401: no token, or a wrong one
	CodeNotFound         Code = "not_found"          // 404: no such account, session, node or path
	CodeMethodNotAllowed Code = "method_not_allowed" // 405: the path exists, the method does not (see Allow)
	CodeConflict         Code = "conflict"           // 409: the account already exists
	CodeTooLarge         Code = "too_large"          // 413: the request body exceeds 64 KiB
	CodeInternal         Code = "internal"           // 500: the server failed; details are in its log
	CodeUnavailable      Code = "unavailable"        // 503: not ready (readyz), or a feature that is off
)

var statuses = map[Code]int{
	CodeBadRequest:       http.StatusBadRequest,
	CodeUnauthorized:     http.StatusUnauthorized,
	CodeNotFound:         http.StatusNotFound,
	CodeMethodNotAllowed: http.StatusMethodNotAllowed,
	CodeConflict:         http.StatusConflict,
	CodeTooLarge:         http.StatusRequestEntityTooLarge,
	CodeInternal:         http.StatusInternalServerError,
	CodeUnavailable:      http.StatusServiceUnavailable,
}

// Status returns the HTTP status of the code.
func (c Code) Status() int {
	if s, ok := statuses[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Error is an API error: a Backend returns one to choose the response.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error implements error.
func (e *Error) Error() string { return "admin: " + string(e.Code) + ": " + e.Message }

// writeJSON sends v with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// writeError sends e in the error shape.
func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.Code.Status(), struct {
		Error *Error `json:"error"`
	}{e})
}

// fail answers with err: an *Error as it is, anything else as internal
// (logged with the request, never shown).
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, a.asError(r, err))
}

// asError returns the *Error of err, or logs err and returns internal.
func (a *api) asError(r *http.Request, err error) *Error {
	var e *Error
	if !errors.As(err, &e) {
		a.log.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = Errorf(CodeInternal, "internal error; see the server log")
	}
	return e
}

// allowHeader is the Allow header of a path with these methods.
func allowHeader(m map[string]http.HandlerFunc) string {
	var ms []string
	for k := range m {
		ms = append(ms, k)
		if k == http.MethodGet {
			ms = append(ms, http.MethodHead)
		}
	}
	slices.Sort(ms)
	return strings.Join(ms, ", ")
}
