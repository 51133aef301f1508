package graphchat

// LookupDelay lets tests shorten the wait before a lookup.
var LookupDelay = &lookupDelay
