package graphchattest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
)

// Request bodies are read as the service reads them: OData property names
// are case-sensitive, so a key that differs from a defined property only in
// letter case is an unknown property; a key repeated in one object is
// refused; a UTF-8 byte-order mark before the JSON is skipped.

var bom = []byte{0xEF, 0xBB, 0xBF}

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
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(known, k) {
			return k
		}
	}
	return ""
}

// unknownPropertyMessage is the reason given for a property the type lacks.
func unknownPropertyMessage(key, typeName string) string {
	return fmt.Sprintf("The property '%s' does not exist on type '%s'. Make sure to only use property names that are defined by the type.", key, typeName)
}
