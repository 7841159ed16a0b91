// Package api holds the service's OpenAPI document, embedded so that the
// binary serves (GET /openapi.yaml) exactly the contract its tests checked
// live answers against.
package api

import _ "embed"

//go:embed openapi.yaml
var document []byte

// OpenAPI returns the OpenAPI 3.1 document of every route; callers must not
// modify it.
func OpenAPI() []byte { return document }
