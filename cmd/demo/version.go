package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
)

const (
	modulePath = "github.com/graphchat/graphchat"
	sdkPath    = "github.com/microsoftgraph/msgraph-sdk-go"
)

// versionInfo is what demo version prints.
type versionInfo struct {
	Module  string `json:"module"`  // the module's path
	Version string `json:"version"` // its version: a tag, a pseudo-version from the checkout, or (devel)
	SDK     string `json:"sdk"`     // msgraph-sdk-go's version
	Go      string `json:"go"`
}

func buildVersions() versionInfo {
	v := versionInfo{Module: modulePath, Version: "(unknown)", SDK: "(unknown)", Go: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == sdkPath {
			v.SDK = d.Version
			if d.Replace != nil {
				v.SDK = d.Replace.Version
			}
		}
	}
	return v
}

// version prints the versions of the program and of the Graph SDK.
func (e *env) version(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object")
	pos, err := parse(fs, args)
	if err != nil {
		return e.helpFor(fs, "", err)
	}
	if len(pos) > 0 {
		return usagef("version takes no arguments, got %d", len(pos))
	}
	v := buildVersions()
	if *asJSON {
		e.emit(v)
		return nil
	}
	fmt.Fprintf(e.stdout, "demo %s (%s)\nmsgraph-sdk-go %s\n%s\n", v.Version, v.Module, v.SDK, v.Go)
	return nil
}
