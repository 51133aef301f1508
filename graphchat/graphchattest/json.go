package graphchattest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// Request bodies are read as the service reads them: OData property names
// are case-sensitive, so a key that differs from a defined property only in
// letter case is an unknown property; a key repeated in one object is
// refused; a UTF-8 byte-order mark before the JSON is skipped.

var bom = []byte{0xEF, 0xBB, 0xBF}

// invalidJSON is the reason given for a body that is not valid JSON, or not
// the JSON object expected.
const invalidJSON = "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."

// readObject reads a request body (readBody) that must be a JSON object,
// and returns it with its properties. A non-nil response refuses it.
func (e *Emulator) readObject(q *request) ([]byte, map[string]json.RawMessage, *response) {
	body, resp := e.readBody(q)
	if resp != nil {
		return nil, nil, resp
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return nil, nil, e.badRequest(q, invalidJSON)
	}
	return body, raw, nil
}

// badRequest answers 400 BadRequest with a message.
func (e *Emulator) badRequest(q *request, msg string) *response {
	return e.graphError(q, http.StatusBadRequest, "BadRequest", msg, nil)
}

// Properties of the types the emulator reads, from Microsoft Graph v1.0's
// resource pages (chat, aadUserConversationMember) and JSON batching. Read-only
// properties are accepted and ignored; instance annotations are listed with
// the properties they annotate.
var (
	chatProperties = []string{"@odata.type", "chatType", "createdDateTime", "id", "isHiddenForAllMembers",
		"lastUpdatedDateTime", "onlineMeetingInfo", "tenantId", "topic", "viewpoint", "webUrl",
		"installedApps", "lastMessagePreview", "members", "messages", "permissionGrants", "pinnedMessages", "tabs"}
	memberProperties = []string{"@odata.type", "id", "displayName", "roles", "visibleHistoryStartDateTime",
		"email", "tenantId", "userId", "user", "user@odata.bind"}
	batchProperties     = []string{"requests"}
	batchItemProperties = []string{"id", "method", "url", "headers", "body", "dependsOn"}
)

// maxDepth is the deepest nesting of a body read, as encoding/json's.
const maxDepth = 10000

var errTooDeep = errors.New("too deeply nested")

// duplicateKey returns the first key repeated within one object of a JSON
// document, or "". It returns an error when the document is not valid JSON
// or nests deeper than maxDepth.
func duplicateKey(data []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dup, err := walkValue(dec, 0)
	if err != nil || dup != "" {
		return dup, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", errors.New("data after the JSON value")
	}
	return "", nil
}

func walkValue(dec *json.Decoder, depth int) (string, error) {
	if depth > maxDepth {
		return "", errTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return "", err
			}
			key, _ := k.(string)
			if seen[key] {
				return key, nil
			}
			seen[key] = true
			if dup, err := walkValue(dec, depth+1); dup != "" || err != nil {
				return dup, err
			}
		}
		_, err = dec.Token()
		return "", err
	case json.Delim('['):
		for dec.More() {
			if dup, err := walkValue(dec, depth+1); dup != "" || err != nil {
				return dup, err
			}
		}
		_, err = dec.Token()
		return "", err
	}
	return "", nil
}

// unknownProperty returns the first key of obj (in sorted order) that is
// not one of known, compared case-sensitively, or "".
func unknownProperty(obj map[string]json.RawMessage, known []string) string {
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if !slices.Contains(known, k) {
			return k
		}
	}
	return ""
}

// caseVariant returns the first key of obj (in sorted order) that differs
// from a known property only in letter case, or "". Bodies whose other
// unknown properties are accepted (a chat message) still refuse these.
func caseVariant(obj map[string]json.RawMessage, known []string) string {
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if !slices.Contains(known, k) && slices.ContainsFunc(known, func(p string) bool { return strings.EqualFold(p, k) }) {
			return k
		}
	}
	return ""
}

// unknownPropertyMessage is the reason given for a property the type lacks.
func unknownPropertyMessage(key, typeName string) string {
	return fmt.Sprintf("The property '%s' does not exist on type '%s'. Make sure to only use property names that are defined by the type.", key, typeName)
}
