package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// readJSON enforces the limits on a JSON request body and returns it:
// content type application/json (415), at most maxBytes (413), nesting at
// most maxDepth (json_too_deep), well-formed and a single value with no
// trailing data (invalid_request). Nothing is decoded into Go values yet.
func readJSON(w http.ResponseWriter, r *http.Request, maxBytes int64, maxDepth int) ([]byte, *Problem) {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" { // the usual one, without parsing
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return nil, newProblem(CodeUnsupportedMediaType, "Send the request body as Content-Type: application/json.")
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			return nil, newProblem(CodeUnsupportedMediaType, "The only supported charset is utf-8.")
		}
	}
	body, err := readBody(http.MaxBytesReader(w, r.Body, maxBytes), r.ContentLength, maxBytes)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, newProblem(CodeBodyTooLarge, fmt.Sprintf("The request body is larger than %d bytes.", maxBytes))
		}
		return nil, newProblem(CodeInvalidRequest, "The request body could not be read.")
	}
	if p := checkJSON(body, maxDepth); p != nil {
		return nil, p
	}
	return body, nil
}

// readBody is io.ReadAll sized by the request's Content-Length (when it
// is declared and at most max): one allocation instead of a growing
// buffer's several.
func readBody(rd io.Reader, contentLength, max int64) ([]byte, error) {
	size := int64(512)
	if contentLength > 0 && contentLength <= max {
		size = contentLength + 1 // room to read EOF without growing
	}
	b := make([]byte, 0, size)
	for {
		n, err := rd.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// checkJSON rejects an empty body, nesting deeper than maxDepth (before any
// parsing, so a hostile body costs one pass over its bytes), malformed JSON
// and anything after the first value.
func checkJSON(body []byte, maxDepth int) *Problem {
	if len(bytes.TrimSpace(body)) == 0 {
		return newProblem(CodeInvalidRequest, "The request body is empty; send a JSON object.")
	}
	if tooDeep(body, maxDepth) {
		return newProblem(CodeJSONTooDeep, fmt.Sprintf("JSON nesting is limited to %d levels.", maxDepth))
	}
	if json.Valid(body) {
		return nil
	}
	// Say what is wrong: trailing data after a valid value, or where the
	// syntax breaks.
	dec := json.NewDecoder(bytes.NewReader(body))
	var first json.RawMessage
	if err := dec.Decode(&first); err == nil {
		return newProblem(CodeInvalidRequest, "Unexpected data after the JSON value.")
	}
	var se *json.SyntaxError
	if err := json.Unmarshal(body, &first); errors.As(err, &se) {
		return newProblem(CodeInvalidRequest, fmt.Sprintf("Malformed JSON near byte %d.", se.Offset))
	}
	return newProblem(CodeInvalidRequest, "Malformed JSON.")
}

// tooDeep reports whether objects and arrays nest deeper than max, counting
// brackets outside strings.
func tooDeep(b []byte, max int) bool {
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			if depth++; depth > max {
				return true
			}
		case '}', ']':
			depth--
		}
	}
	return false
}

// decodeStrict decodes a checked body into dst, refusing unknown fields
// (unknown_field naming it) and wrong types (invalid_request naming the
// field). The body must be a JSON object.
func decodeStrict(body []byte, dst any) *Problem {
	if b := bytes.TrimSpace(body); len(b) == 0 || b[0] != '{' {
		return newProblem(CodeInvalidRequest, "The request body must be a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		return nil
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		p := newProblem(CodeUnknownField, fmt.Sprintf("Unknown field %q.", name))
		p.Errors = []FieldError{{Field: name, Message: "unknown field"}}
		return p
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "(body)"
		}
		return invalidFields([]FieldError{{Field: field, Message: "must be " + jsonKind(te.Type.Kind().String())}})
	}
	return newProblem(CodeInvalidRequest, "The request body could not be decoded.")
}

// jsonKind names a Go kind the way a JSON client thinks of it.
func jsonKind(k string) string {
	switch {
	case k == "string":
		return "a string"
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"):
		return "an integer"
	case strings.HasPrefix(k, "float"):
		return "a number"
	case k == "bool":
		return "a boolean"
	case k == "slice", k == "array":
		return "an array"
	default:
		return "an object"
	}
}
