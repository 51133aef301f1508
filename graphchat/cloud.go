package graphchat

import (
	"fmt"
	"strings"
)

// Cloud is a Microsoft Graph deployment, the global service or a national
// cloud, equal to its name.
type Cloud string

// Clouds. The zero value means CloudGlobal.
const (
	CloudGlobal   Cloud = "global"
	CloudUSGov    Cloud = "usgov"
	CloudUSGovDoD Cloud = "usgovdod"
	CloudChina    Cloud = "china"
)

// clouds are the clouds graphchat knows, in the order messages list them.
func clouds() []Cloud { return []Cloud{CloudGlobal, CloudUSGov, CloudUSGovDoD, CloudChina} }

// GraphHost returns the cloud's Microsoft Graph host, such as
// graph.microsoft.com, or "" for a cloud graphchat does not know.
func (c Cloud) GraphHost() string {
	switch c {
	case CloudGlobal, "":
		return "graph.microsoft.com"
	case CloudUSGov:
		return "graph.microsoft.us"
	case CloudUSGovDoD:
		return "dod-graph.microsoft.us"
	case CloudChina:
		return "microsoftgraph.chinacloudapi.cn"
	}
	return ""
}

// CloudByName returns the cloud called name, in any letter case: global,
// usgov, usgovdod or china.
func CloudByName(name string) (Cloud, error) {
	for _, c := range clouds() {
		if strings.EqualFold(string(c), name) {
			return c, nil
		}
	}
	return "", fmt.Errorf("graphchat: cloud %q: want global, usgov, usgovdod or china", name)
}

// cloudOfHost returns the cloud whose Graph host is host.
func cloudOfHost(host string) (Cloud, bool) {
	for _, c := range clouds() {
		if strings.EqualFold(c.GraphHost(), host) {
			return c, true
		}
	}
	return "", false
}
