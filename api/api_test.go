package api

import (
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// TestDocumentLint is the lint of api/openapi.yaml (.ci/run runs it by
// name): the document is valid OpenAPI 3.1 by the specification's own
// schema, every operation is named, summarised and tagged, and every error
// answer (4xx and 5xx) of this service is an Error body.
func TestDocumentLint(t *testing.T) {
	doc, err := libopenapi.NewDocument(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if v := doc.GetVersion(); v != "3.1.0" {
		t.Errorf("openapi %s, want 3.1.0", v)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ok, errs := v.ValidateDocument(); !ok {
		for _, e := range errs {
			t.Errorf("not valid OpenAPI 3.1: %v", e)
		}
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	for tmpl, item := range model.Model.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			lintOperation(t, method+" "+tmpl, op)
		}
	}
}

func lintOperation(t *testing.T, name string, op *v3.Operation) {
	t.Helper()
	if op.Summary == "" || len(op.Tags) == 0 {
		t.Errorf("%s: no summary or tag", name)
	}
	if op.OperationId == "" && !strings.Contains(name, "{path}") && op.Tags[0] != "sidecar" {
		t.Errorf("%s: no operationId", name)
	}
	for code, resp := range op.Responses.Codes.FromOldest() {
		if code[0] != '4' && code[0] != '5' || op.OperationId == "pprof" {
			continue
		}
		mt := resp.Content.GetOrZero("application/json")
		if mt == nil || mt.Schema == nil || !strings.HasSuffix(mt.Schema.GetReference(), "/Error") {
			t.Errorf("%s %s: the answer is not an application/json Error", name, code)
		}
	}
}
