package admin

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
)

// Paging (?limit=&after=) of the list endpoints.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// page reads the paging parameters: limit from 1 to maxLimit (default
// defaultLimit) and the cursor after.
func page(r *http.Request) (after string, limit int, err *Error) {
	q := r.URL.Query()
	limit = defaultLimit
	if s := q.Get("limit"); s != "" {
		n, perr := strconv.Atoi(s)
		if perr != nil || n < 1 || n > maxLimit {
			return "", 0, Errorf(CodeBadRequest, "limit must be an integer from 1 to %d", maxLimit)
		}
		limit = n
	}
	return q.Get("after"), limit, nil
}

// decode reads the request body, one JSON object, strictly: unknown
// fields, trailing data and bodies over maxBody are errors.
func decode(w http.ResponseWriter, r *http.Request, v any) *Error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		return Errorf(CodeBadRequest, "the body must be one JSON object")
	}
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooLarge):
		return Errorf(CodeTooLarge, "the body exceeds %d bytes", maxBody)
	case errors.Is(err, io.EOF):
		return Errorf(CodeBadRequest, "a JSON body is required")
	}
	return Errorf(CodeBadRequest, "invalid JSON body: %v", err)
}

// required reports a missing (empty) field.
func required(name, v string) *Error {
	if v == "" {
		return Errorf(CodeBadRequest, "%s is required", name)
	}
	return nil
}
