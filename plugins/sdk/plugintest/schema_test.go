package plugintest

import (
	"fmt"
	"strings"
	"testing"

	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

func TestSchemaErrors(t *testing.T) {
	str := pb.AttributeType_ATTRIBUTE_TYPE_STRING
	attr := func(name string) *pb.Attribute { return sdk.Attr(name, str, false, "") }
	block := func(name string, labels []string, attrs ...*pb.Attribute) *pb.BlockType {
		return &pb.BlockType{Name: name, Labels: labels, Body: &pb.Schema{Attributes: attrs}}
	}
	tests := []struct {
		name   string
		schema *pb.Schema
		want   []string // substrings, one per expected error
	}{
		{"empty", &pb.Schema{}, nil},
		{"nil", nil, nil},
		{"valid nested", &pb.Schema{Attributes: []*pb.Attribute{attr("key")},
			Blocks: []*pb.BlockType{block("payer", []string{"id"}, attr("secret"), attr("key"))}}, nil},
		{"duplicate attribute", &pb.Schema{Attributes: []*pb.Attribute{attr("key"), attr("key")}}, []string{`attribute "key": name used twice`}},
		{"attribute and block share a name", &pb.Schema{Attributes: []*pb.Attribute{attr("payer")}, Blocks: []*pb.BlockType{block("payer", nil)}},
			[]string{`block "payer": name used twice`}},
		{"untyped attribute", &pb.Schema{Attributes: []*pb.Attribute{{Name: "key"}}}, []string{`attribute "key": type is not set`}},
		{"unknown type", &pb.Schema{Attributes: []*pb.Attribute{{Name: "key", Type: pb.AttributeType(99)}}}, []string{`attribute "key": type is not set`}},
		{"empty name", &pb.Schema{Attributes: []*pb.Attribute{attr("")}}, []string{"attribute with an empty name"}},
		{"upper case name", &pb.Schema{Attributes: []*pb.Attribute{attr("Key")}}, []string{`attribute "Key": names are`}},
		{"min above max", &pb.Schema{Blocks: []*pb.BlockType{{Name: "b", MinItems: 3, MaxItems: 2}}}, []string{"min_items 3 > max_items 2"}},
		{"repeated label", &pb.Schema{Blocks: []*pb.BlockType{block("b", []string{"id", "id"})}}, []string{`label "id" is empty or repeated`}},
		{"label clashes with attribute", &pb.Schema{Blocks: []*pb.BlockType{block("payer", []string{"id"}, attr("id"))}},
			[]string{`payer.attribute "id": clashes with a label`}},
		{"error inside a nested block", &pb.Schema{Blocks: []*pb.BlockType{block("outer", nil)}}, nil},
		{"nested duplicate", &pb.Schema{Blocks: []*pb.BlockType{{Name: "outer", Body: &pb.Schema{Blocks: []*pb.BlockType{block("inner", nil, attr("x"), attr("x"))}}}}},
			[]string{`outer.inner.attribute "x": name used twice`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := schemaErrors(tt.schema, "")
			if len(errs) != len(tt.want) {
				t.Fatalf("got %d errors %v, want %d %q", len(errs), errs, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(fmt.Sprint(errs[i]), w) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i], w)
				}
			}
		})
	}
}
