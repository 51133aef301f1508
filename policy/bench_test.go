package policy_test

import (
	"fmt"
	"testing"

	"github.com/graphchat/graphchat/policy"
)

func request(n int) *policy.Request {
	r := &policy.Request{ChatType: policy.ChatTypeGroup}
	if n == 2 {
		r.ChatType = policy.ChatTypeOneOnOne
	} else {
		topic := "Quarterly planning"
		r.Topic = &topic
	}
	for i := range n {
		r.Members = append(r.Members, policy.Member{
			User:  fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i),
			Roles: []policy.Role{policy.RoleOwner},
			Kind:  policy.KindMember,
		})
	}
	return r
}

func BenchmarkCheck(b *testing.B) {
	for _, n := range []int{2, 250} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			r := request(n)
			c := &policy.Context{Caller: policy.Caller{ID: r.Members[0].User}, TenantID: "2432b57b-0abd-43db-aa7b-16eadd115d34",
				Grant: &policy.Grant{Permissions: []string{"Chat.Create"}}}
			b.ReportAllocs()
			for b.Loop() {
				if err := policy.Check(r, c).Err(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCheckJSON(b *testing.B) {
	for _, n := range []int{2, 250} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			r := request(n)
			body := []byte(`{"chatType":"` + string(r.ChatType) + `",`)
			if r.Topic != nil {
				body = append(body, `"topic":"`+*r.Topic+`",`...)
			}
			body = append(body, `"members":[`...)
			for i, m := range r.Members {
				if i > 0 {
					body = append(body, ',')
				}
				body = append(body, `{"@odata.type":"#microsoft.graph.aadUserConversationMember","roles":["owner"],"user@odata.bind":"https://graph.microsoft.com/v1.0/users('`+m.User+`')"}`...)
			}
			body = append(body, "]}"...)
			c := &policy.Context{Caller: policy.Caller{ID: r.Members[0].User}, TenantID: "2432b57b-0abd-43db-aa7b-16eadd115d34",
				Grant: &policy.Grant{Permissions: []string{"Chat.Create"}}}
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				res, err := policy.CheckJSON(body, c)
				if err != nil {
					b.Fatal(err)
				}
				if err := res.Err(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
