package conformance

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graphchat/graphchat/graphchat/graphchattest"
)

// These cases need the emulator's options; each starts its own emulator
// from the target's options with some changed.

// variant is an emulator target with the options changed by f.
func variant(t *testing.T, tg *target, f func(*graphchattest.Options)) *target {
	t.Helper()
	opts := tg.opts
	f(&opts)
	return newEmulatorTarget(t, opts)
}

func groupOfThree(tg *target) map[string]any {
	u := tg.cfg.users
	return map[string]any{"chatType": "group", "members": members(member(u.caller, "owner"), member(u.member1, "owner"), member(u.member2, "owner"))}
}

func tokensMinted(t *testing.T, tg *target) {
	past := time.Now().Add(-2 * time.Hour).Unix()
	for _, c := range []struct {
		name   string
		token  string
		status int
		code   string
	}{
		{"expired", graphchattest.Token(graphchattest.Claims{Scopes: "Chat.ReadBasic", TenantID: graphchattest.DefaultTenantID, ObjectID: graphchattest.MeganID,
			IssuedAt: past - 3600, NotBefore: past - 3600, Expires: past}), 401, "InvalidAuthenticationToken"},
		{"another tenant", graphchattest.Token(graphchattest.Claims{Scopes: "Chat.ReadBasic", TenantID: graphchattest.PartnerTenantID, ObjectID: graphchattest.GradyID}), 401, "InvalidAuthenticationToken"},
		{"another audience", graphchattest.Token(graphchattest.Claims{Scopes: "Chat.ReadBasic", TenantID: graphchattest.DefaultTenantID, ObjectID: graphchattest.MeganID, Audience: "https://management.azure.com"}), 401, "InvalidAuthenticationToken"},
		{"permission missing", graphchattest.DelegatedToken(graphchattest.MeganID, "User.Read"), 403, "Forbidden"},
		{"app token on /me", graphchattest.AppToken("Chat.ReadBasic.All"), 400, "BadRequest"},
	} {
		r := tg.do(t, "GET", "/me/chats", nil, "Authorization", "Bearer "+c.token)
		want(t, c.name, r, c.status, c.code)
	}
	// Application permissions reach any user's chats through /users/{id}.
	r := tg.do(t, "GET", "/users/"+tg.cfg.users.caller+"/chats", nil, "Authorization", "Bearer "+graphchattest.AppToken("Chat.ReadBasic.All"))
	want(t, "app token on /users/{id}/chats", r, http.StatusOK, "")
}

func retryAfter(t *testing.T, what string, r *reply) {
	t.Helper()
	if s, err := strconv.ParseFloat(r.header.Get("Retry-After"), 64); err != nil || s <= 0 {
		t.Errorf("%s: Retry-After %q, want seconds", what, r.header.Get("Retry-After"))
	}
}

func throttling(t *testing.T, tg *target) {
	cases := []struct {
		name     string
		opts     func(*graphchattest.Options)
		requests func(tg *target, chatID string, i int) *reply
		first429 int // 1-based
	}{
		{"RateLimit", func(o *graphchattest.Options) { o.RateLimit = 2 }, func(tg *target, _ string, _ int) *reply { return tg.do(t, "GET", "/me/chats", nil) }, 3},
		{"Throttle.PerApp", func(o *graphchattest.Options) { o.Throttle.PerApp = 2 }, func(tg *target, _ string, _ int) *reply { return tg.do(t, "GET", "/users/"+tg.cfg.users.member1, nil) }, 3},
		{"Throttle.PerUserList", func(o *graphchattest.Options) { o.Throttle.PerUserList = 2 }, func(tg *target, _ string, _ int) *reply { return tg.do(t, "GET", "/me/chats", nil) }, 3},
		{"Throttle.WritesPerChat", func(o *graphchattest.Options) { o.Throttle.WritesPerChat = 1 }, func(tg *target, id string, i int) *reply {
			return tg.do(t, "PATCH", chatPath(id), map[string]any{"topic": "t" + strconv.Itoa(i)})
		}, 2},
		{"Throttle.MemberAddsPerChat (DocumentedLimits)", func(o *graphchattest.Options) {
			o.Throttle = graphchattest.DocumentedLimits()
			o.Throttle.WritesPerChat = 0
		}, func(tg *target, id string, i int) *reply {
			return tg.do(t, "POST", chatPath(id)+"/members/add", map[string]any{"values": members(member(graphchattest.AlexID, "owner"))})
		}, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := variant(t, tg, c.opts)
			var id string
			if c.first429 < 3 || strings.HasPrefix(c.name, "Throttle.M") {
				r := e.do(t, "POST", "/chats", groupOfThree(e))
				want(t, "create", r, http.StatusCreated, "")
				id = str(r.body["id"])
			}
			for i := 1; i <= c.first429; i++ {
				r := c.requests(e, id, i)
				switch {
				case i < c.first429 && r.status == 429:
					t.Fatalf("429 at request %d, want it at %d", i, c.first429)
				case i == c.first429:
					want(t, "over the limit", r, http.StatusTooManyRequests, "TooManyRequests")
					retryAfter(t, "429", r)
				}
			}
		})
	}
}

func faults(t *testing.T, tg *target) {
	for _, c := range []struct {
		fault     graphchattest.Fault
		status    int
		code      string
		processed bool
	}{
		{graphchattest.Fault503, 503, "ServiceUnavailable", false},
		{graphchattest.Fault504, 504, "GatewayTimeout", false},
		{graphchattest.Fault504After, 504, "GatewayTimeout", true},
	} {
		t.Run(string(c.fault), func(t *testing.T) {
			e := variant(t, tg, func(o *graphchattest.Options) { o.Faults = []graphchattest.FaultRule{{Fault: c.fault, Probability: 1}} })
			r := e.do(t, "POST", "/chats", groupOfThree(e))
			want(t, "create", r, c.status, c.code)
			if c.fault == graphchattest.Fault503 {
				retryAfter(t, "503", r)
			}
			if n := len(e.emu.Chats()); (n == 1) != c.processed {
				t.Errorf("%d chats after %s", n, c.fault)
			}
		})
	}
	t.Run("drop-after", func(t *testing.T) {
		e := variant(t, tg, func(o *graphchattest.Options) {
			o.Faults = []graphchattest.FaultRule{{Fault: graphchattest.FaultDropAfter, Probability: 1}}
		})
		if _, err := rawCreate(e); err == nil {
			t.Error("the connection was not dropped")
		}
		if n := len(e.emu.Chats()); n != 1 {
			t.Errorf("%d chats, want the one processed", n)
		}
	})
	t.Run("slow-after and SlowDelay", func(t *testing.T) {
		e := variant(t, tg, func(o *graphchattest.Options) {
			o.Faults = []graphchattest.FaultRule{{Fault: graphchattest.FaultSlowAfter, Probability: 1}}
			o.SlowDelay = 300 * time.Millisecond
		})
		e.client.Timeout = 50 * time.Millisecond
		if _, err := rawCreate(e); err == nil {
			t.Error("answered before the caller's deadline")
		}
		e.client.Timeout = 5 * time.Second
		start := time.Now()
		resp, err := rawCreate(e)
		if err != nil || resp.StatusCode != 201 || time.Since(start) < 300*time.Millisecond {
			t.Errorf("held %s, err %v", time.Since(start), err)
		}
	})
	t.Run("Seed repeats the sequence", func(t *testing.T) {
		seq := func() string {
			e := variant(t, tg, func(o *graphchattest.Options) {
				o.Faults = []graphchattest.FaultRule{{Fault: graphchattest.Fault503, Probability: 0.5}}
				o.Seed = 7
			})
			var b strings.Builder
			for range 20 {
				b.WriteString(strconv.Itoa(e.do(t, "GET", "/me/chats", nil).status) + " ")
			}
			return b.String()
		}
		if a, b := seq(), seq(); a != b || !strings.Contains(a, "503") || !strings.Contains(a, "200") {
			t.Errorf("sequences %q and %q", a, b)
		}
	})
}

// rawCreate creates a group without the suite's checks, for faults that
// break the connection.
func rawCreate(tg *target) (*http.Response, error) {
	req, _ := http.NewRequest("POST", tg.cfg.base+"/chats", strings.NewReader(jsonOf(groupOfThree(tg))))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tg.cfg.token)
	resp, err := tg.client.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	return resp, err
}

func limits(t *testing.T, tg *target) {
	t.Run("MaxBodyBytes", func(t *testing.T) {
		e := variant(t, tg, func(o *graphchattest.Options) { o.MaxBodyBytes = 200 })
		want(t, "a large body", e.do(t, "POST", "/chats", groupOfThree(e)), http.StatusRequestEntityTooLarge, "RequestEntityTooLarge")
	})
	t.Run("MaxChats", func(t *testing.T) {
		e := variant(t, tg, func(o *graphchattest.Options) { o.MaxChats = 1 })
		want(t, "first", e.do(t, "POST", "/chats", groupOfThree(e)), http.StatusCreated, "")
		r := e.do(t, "POST", "/chats", groupOfThree(e))
		want(t, "over MaxChats", r, http.StatusInsufficientStorage, "InsufficientStorage")
		if r.header.Get("Retry-After") != "" {
			t.Error("507 with Retry-After")
		}
	})
	t.Run("ForgetOldChats", func(t *testing.T) {
		e := variant(t, tg, func(o *graphchattest.Options) { o.MaxChats, o.ForgetOldChats = 1, true })
		first := e.do(t, "POST", "/chats", groupOfThree(e))
		want(t, "second", e.do(t, "POST", "/chats", groupOfThree(e)), http.StatusCreated, "")
		want(t, "the first, forgotten", e.do(t, "GET", chatPath(str(first.body["id"])), nil), http.StatusNotFound, "NotFound")
	})
	t.Run("250 members", func(t *testing.T) {
		users := make([]graphchattest.User, 0, 252)
		ms := []any{}
		for i := range 251 {
			id := newGUID()
			users = append(users, graphchattest.User{ID: id, UserPrincipalName: "u" + strconv.Itoa(i) + "@contoso.com", UserType: "Member"})
			if i < 250 {
				ms = append(ms, member(id, "owner"))
			}
		}
		users = append(users, graphchattest.DefaultUsers()...)
		e := variant(t, tg, func(o *graphchattest.Options) { o.Users = users })
		e.cfg.token = graphchattest.AppToken("Chat.Create", "Chat.ReadWrite.All")
		r := e.do(t, "POST", "/chats", map[string]any{"chatType": "group", "members": ms})
		want(t, "a group of 250", r, http.StatusCreated, "")
		tooMany := append(ms, member(users[250].ID, "owner"))
		want(t, "a group of 251", e.do(t, "POST", "/chats", map[string]any{"chatType": "group", "members": tooMany}), http.StatusBadRequest, "BadRequest")
		add := e.do(t, "POST", chatPath(str(r.body["id"]))+"/members/add", map[string]any{"values": members(member(users[250].ID, "owner"))})
		want(t, "the 251st by the add action", add, http.StatusMultiStatus, "")
		if got := memberResults(t, add); got[strings.ToLower(users[250].ID)] != "BadRequest" {
			t.Errorf("results %v", got)
		}
	})
	t.Run("ReportedAddMemberBlocked", func(t *testing.T) {
		u := tg.cfg.users
		two := map[string]any{"chatType": "group", "members": members(member(u.caller, "owner"), member(u.member1, "owner"))}
		for _, reported := range []bool{false, true} {
			e := variant(t, tg, func(o *graphchattest.Options) { o.ReportedAddMemberBlocked = reported })
			id := str(e.do(t, "POST", "/chats", two).body["id"])
			one := e.do(t, "POST", chatPath(id)+"/members", member(u.member2, "owner"))
			action := e.do(t, "POST", chatPath(id)+"/members/add", map[string]any{"values": members(member(graphchattest.AlexID, "owner"))})
			if reported {
				want(t, "add one, reported", one, http.StatusBadRequest, "RosterAddMemberBlocked")
				want(t, "add action, reported", action, http.StatusBadRequest, "RosterAddMemberBlocked")
			} else {
				want(t, "add one, documented", one, http.StatusCreated, "")
				want(t, "add action, documented", action, http.StatusOK, "")
			}
		}
	})
}

func options(t *testing.T, tg *target) {
	t.Run("Anonymous", func(t *testing.T) {
		e := variant(t, tg, func(o *graphchattest.Options) { o.Anonymous = true })
		want(t, "no token", e.do(t, "GET", "/users/"+e.cfg.users.member1+"/chats", nil, "Authorization", ""), http.StatusOK, "")
	})
	t.Run("Latency", func(t *testing.T) {
		e := variant(t, tg, func(o *graphchattest.Options) { o.Latency = 100 * time.Millisecond })
		start := time.Now()
		e.do(t, "GET", "/me/chats", nil)
		if d := time.Since(start); d < 100*time.Millisecond {
			t.Errorf("answered in %s", d)
		}
	})
	t.Run("TenantID", func(t *testing.T) {
		e := variant(t, tg, func(o *graphchattest.Options) { o.TenantID = graphchattest.PartnerTenantID })
		want(t, "a token of the default tenant", e.do(t, "GET", "/me/chats", nil), http.StatusUnauthorized, "InvalidAuthenticationToken")
	})
	t.Run("Users", func(t *testing.T) {
		pat := graphchattest.User{ID: "0e8f4a3c-8b1d-4f7e-9c2a-5d6b7e8f9a0b", UserPrincipalName: "pat@contoso.com", UserType: "Member"}
		e := variant(t, tg, func(o *graphchattest.Options) { o.Users = append(graphchattest.DefaultUsers()[:0:0], pat) })
		e.cfg.token = graphchattest.AppToken("User.Read.All")
		want(t, "a user of the directory", e.do(t, "GET", "/users/pat@contoso.com", nil), http.StatusOK, "")
		want(t, "a built-in user not in it", e.do(t, "GET", "/users/megan@contoso.com", nil), http.StatusNotFound, "Request_ResourceNotFound")
	})
	t.Run("Now", func(t *testing.T) {
		at := time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)
		e := variant(t, tg, func(o *graphchattest.Options) { o.Now = func() time.Time { return at } })
		r := e.do(t, "POST", "/chats", groupOfThree(e))
		if r.body["createdDateTime"] != "2024-02-29T12:00:00.000Z" {
			t.Errorf("createdDateTime %v", r.body["createdDateTime"])
		}
	})
	t.Run("Log and MaxEntries", func(t *testing.T) {
		var mu sync.Mutex
		var logged []graphchattest.Entry
		e := variant(t, tg, func(o *graphchattest.Options) {
			o.MaxEntries = 2
			o.Log = func(en graphchattest.Entry) { mu.Lock(); logged = append(logged, en); mu.Unlock() }
		})
		for range 3 {
			e.do(t, "GET", "/me/chats", nil)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(logged) != 3 || len(e.emu.Entries()) != 2 || e.emu.Stats().Requests != 3 {
			t.Errorf("%d logged, %d entries, %d counted", len(logged), len(e.emu.Entries()), e.emu.Stats().Requests)
		}
	})
}
