package graphchattest

import (
	"fmt"
	"net/url"
	"strconv"
)

// page is the window of a listing a request asks for: $top items from the
// $skiptoken'th. The emulator's skip token is the offset of the next item.
type page struct{ top, skip int }

// readPage reads $top (1 to maxTop, default maxTop) and $skiptoken; a
// non-empty message is the reason for a 400.
func readPage(query url.Values, maxTop int) (page, string) {
	p := page{top: maxTop}
	if t := query.Get("$top"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > maxTop {
			return p, fmt.Sprintf("$top must be from 1 to %d.", maxTop)
		}
		p.top = n
	}
	if s := query.Get("$skiptoken"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return p, "Invalid $skiptoken."
		}
		p.skip = n
	}
	return p, ""
}

// collection renders the page of a listing of n items as an OData
// collection: item(i) is the i'th item, context the @odata.context, and
// @odata.nextLink, the request's URL with the next skip token, is there
// when items remain.
func (p page) collection(q *request, context string, n int, item func(i int) any) map[string]any {
	values := []any{}
	for i := p.skip; i < n && i < p.skip+p.top; i++ {
		values = append(values, item(i))
	}
	out := map[string]any{"@odata.context": context, "@odata.count": len(values), "value": values}
	if p.skip+p.top < n {
		next := *q.r.URL
		nq := next.Query()
		nq.Set("$skiptoken", strconv.Itoa(p.skip+p.top))
		next.RawQuery = nq.Encode()
		next.Scheme, next.Host = "http", q.r.Host
		if q.r.TLS != nil {
			next.Scheme = "https"
		}
		out["@odata.nextLink"] = next.String()
	}
	return out
}
