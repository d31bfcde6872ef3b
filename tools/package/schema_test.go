package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// pluginSchema is derived from the schema Grafana's plugin validator checks
// plugin.json against (its metadatavalid analyzer): config/plugin.schema.json
// of github.com/grafana/plugin-validator at commit
// a7e38aae36a336062e9aa5ee9dd36435851daac2. It is not a copy: descriptions
// and the title are dropped, the five extension lists share two
// definitions, and the properties Panelcast's manifests do not use keep
// only their type. Restated whole: the root (draft-07, required type, name, id,
// info, dependencies; additionalProperties false, so every property name the
// validator knows is listed), and the properties id, type, name, $schema,
// backend, executable, state, preload, autoEnabled, includes, info (author,
// build, keywords, links, logos, screenshots, updated, version),
// dependencies (grafanaVersion, grafanaDependency, plugins, extensions) and
// extensions (addedComponents, addedLinks, addedFunctions,
// exposedComponents, extensionPoints). Patterns are the validator's, byte
// for byte. Set PANELCAST_VALIDATOR_SCHEMA to the validator's file to check
// both manifests against it too (TestManifestsAgainstValidatorSchema).
const pluginSchema = `{
  "$schema": "http://json-schema.org/draft-07/schema",
  "$id": "https://grafana.com/plugin-metadata",
  "type": "object",
  "required": ["type", "name", "id", "info", "dependencies"],
  "additionalProperties": false,
  "properties": {
    "id": {"type": "string", "pattern": "^[0-9a-z]+\\-([0-9a-z]+\\-)?(app|panel|datasource)$"},
    "type": {"type": "string", "enum": ["app", "datasource", "panel", "renderer"]},
    "name": {"type": "string"},
    "$schema": {"type": "string"},
    "backend": {"type": "boolean"},
    "executable": {"type": "string"},
    "state": {"type": "string", "enum": ["alpha", "beta", "stable", "deprecated"]},
    "preload": {"type": "boolean"},
    "autoEnabled": {"type": "boolean"},
    "includes": {
      "type": "array",
      "items": {
        "type": "object",
        "additionalItems": false,
        "required": ["type"],
        "properties": {
          "uid": {"type": "string"},
          "type": {"type": "string", "enum": ["dashboard", "page", "panel", "datasource"]},
          "name": {"type": "string"},
          "component": {"type": "string"},
          "role": {"type": "string", "enum": ["Admin", "Editor", "Viewer"]},
          "action": {"type": "string"},
          "path": {"type": "string"},
          "addToNav": {"type": "boolean"},
          "defaultNav": {"type": "boolean"},
          "icon": {"type": "string"}
        }
      }
    },
    "info": {
      "type": "object",
      "required": ["logos", "version", "updated", "keywords"],
      "additionalProperties": false,
      "properties": {
        "author": {
          "type": "object",
          "additionalProperties": false,
          "properties": {
            "name": {"type": "string"},
            "email": {"type": "string", "format": "email"},
            "url": {"type": "string", "format": "uri"}
          }
        },
        "build": {
          "type": "object",
          "additionalProperties": false,
          "properties": {
            "time": {"type": "number"},
            "repo": {"type": "string"},
            "branch": {"type": "string"},
            "hash": {"type": "string"},
            "number": {"type": "number"},
            "pr": {"type": "number"},
            "build": {"type": "number"}
          }
        },
        "description": {"type": "string"},
        "keywords": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "links": {
          "type": "array",
          "items": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
              "name": {"type": "string"},
              "url": {"type": "string", "format": "uri"},
              "target": {"type": "string", "enum": ["_blank", "_self", "_parent", "_top"]}
            }
          }
        },
        "logos": {
          "type": "object",
          "required": ["small", "large"],
          "additionalProperties": false,
          "properties": {"small": {"type": "string"}, "large": {"type": "string"}}
        },
        "screenshots": {
          "type": "array",
          "items": {
            "type": "object",
            "additionalProperties": false,
            "properties": {"name": {"type": "string"}, "path": {"type": "string"}}
          }
        },
        "updated": {"type": "string", "pattern": "^(\\d{4}-\\d{2}-\\d{2}|\\%TODAY\\%)$"},
        "version": {"type": "string", "pattern": "^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)|(\\%VERSION\\%)$"}
      }
    },
    "dependencies": {
      "type": "object",
      "required": ["grafanaDependency"],
      "additionalProperties": false,
      "properties": {
        "grafanaVersion": {"type": "string", "pattern": "^([0-9]+)(\\.[0-9x]+)?(\\.[0-9x])?$"},
        "grafanaDependency": {"type": "string", "pattern": "^(<=|>=|<|>|=|~|\\^)?([0-9]+)(\\.[0-9x\\*]+)?(\\.[0-9x\\*]+)?(-[0-9A-Za-z-.]+)?(\\s(<=|>=|<|=>)?([0-9]+)(\\.[0-9x\\*]+)?(\\.[0-9x\\*]+)?(-[0-9A-Za-z-.]+)?)?(\\s\\|\\|\\s(<=|>=|<|>|=|~|\\^)?([0-9]+)(\\.[0-9x\\*]+)?(\\.[0-9x\\*]+)?(-[0-9A-Za-z-.]+)?(\\s(<=|>=|<|=>)?([0-9]+)(\\.[0-9x\\*]+)?(\\.[0-9x\\*]+)?(-[0-9A-Za-z-.]+)?)?)*$"},
        "plugins": {
          "type": "array",
          "additionalItems": false,
          "items": {
            "type": "object",
            "required": ["id", "name", "type"],
            "properties": {
              "id": {"type": "string", "pattern": "^[0-9a-z]+\\-([0-9a-z]+\\-)?(app|panel|datasource)$"},
              "type": {"type": "string", "enum": ["app", "datasource", "panel"]},
              "name": {"type": "string"}
            }
          }
        },
        "extensions": {
          "type": "object",
          "properties": {"exposedComponents": {"type": "array", "items": {"type": "string"}}}
        }
      }
    },
    "extensions": {
      "type": "object",
      "properties": {
        "addedComponents": {"$ref": "#/definitions/added"},
        "addedLinks": {"$ref": "#/definitions/added"},
        "addedFunctions": {"$ref": "#/definitions/added"},
        "exposedComponents": {"$ref": "#/definitions/exposed"},
        "extensionPoints": {"$ref": "#/definitions/exposed"}
      }
    },
    "alerting": {"type": "boolean"},
    "annotations": {"type": "boolean"},
    "buildMode": {"type": "string"},
    "builtIn": {"type": "boolean"},
    "category": {"type": "string"},
    "docsPath": {"type": "string"},
    "enterpriseFeatures": {"type": "object"},
    "hideFromList": {"type": "boolean"},
    "logs": {"type": "boolean"},
    "metrics": {"type": "boolean"},
    "mixed": {"type": "boolean"},
    "multiValueFilterOperators": {"type": "boolean"},
    "pascalName": {"type": "string", "pattern": "^([A-Z][a-zA-Z]{1,62})$"},
    "suggestions": {"type": "boolean"},
    "queryOptions": {"type": "object"},
    "routes": {"type": "array"},
    "skipDataQuery": {"type": "boolean"},
    "streaming": {"type": "boolean"},
    "tracing": {"type": "boolean"},
    "iam": {"type": "object"},
    "roles": {"type": "array"},
    "languages": {"type": "array", "items": {"type": "string"}}
  },
  "definitions": {
    "added": {
      "type": "array",
      "items": {
        "type": "object",
        "required": ["targets", "title"],
        "properties": {
          "targets": {"type": "array", "items": {"type": "string"}},
          "title": {"type": "string", "minLength": 10},
          "description": {"type": "string"}
        }
      }
    },
    "exposed": {
      "type": "array",
      "items": {
        "type": "object",
        "required": ["id"],
        "properties": {
          "id": {"type": "string", "pattern": "^[0-9a-z]+-([0-9a-z]+-)?(app|panel|datasource)\\/[a-zA-Z0-9_-]+\\/v[0-9_.-]+$"},
          "title": {"type": "string"},
          "description": {"type": "string"}
        }
      }
    }
  }
}`

// appManifestFixture has the shape of the app's src/plugin.json (the
// frontend's), for when that file is not in the tree yet.
const appManifestFixture = `{
  "$schema": "https://raw.githubusercontent.com/grafana/grafana/main/docs/sources/developers/plugins/plugin.schema.json",
  "type": "app",
  "name": "Panelcast",
  "id": "panelcast-app",
  "backend": true,
  "executable": "gpx_panelcast_app",
  "info": {
    "description": "Send to chat… in every panel menu.",
    "author": {"name": "Panelcast authors", "url": "https://github.com/panelcast/panelcast"},
    "keywords": ["app", "chat", "slack"],
    "logos": {"small": "img/logo.svg", "large": "img/logo.svg"},
    "links": [{"name": "Project site", "url": "https://github.com/panelcast/panelcast"}],
    "version": "%VERSION%",
    "updated": "%TODAY%"
  },
  "includes": [],
  "extensions": {
    "addedLinks": [
      {
        "title": "Send to chat…",
        "description": "Send the picture of this panel to a chat channel or person",
        "targets": ["grafana/dashboard/panel/menu"]
      }
    ]
  },
  "dependencies": {"grafanaDependency": ">=11.3.0 <14.0.0", "plugins": []}
}`

// compileSchema compiles a plugin.json schema; anyID drops the id pattern,
// which allows no renderer ("panelcast-renderer" ends in none of app, panel,
// datasource), so that a renderer's manifest is checked in every other field.
func compileSchema(t *testing.T, src []byte, anyID bool) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if anyID {
		delete(doc.(map[string]any)["properties"].(map[string]any)["id"].(map[string]any), "pattern")
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("plugin.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("plugin.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// validateManifest checks raw against s as it is in the repository
// (placeholders) and as the archive carries it (filled in).
func validateManifest(t *testing.T, s *jsonschema.Schema, raw []byte) {
	t.Helper()
	filled := bytes.ReplaceAll(bytes.ReplaceAll(raw, []byte("%VERSION%"), []byte("4.1.0")), []byte("%TODAY%"), []byte("2026-12-08"))
	for _, b := range [][]byte{raw, filled} {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(doc); err != nil {
			t.Errorf("plugin.json does not validate: %v", err)
		}
	}
}

// repoAppManifest is src/plugin.json when the frontend has written it, else
// the fixture of its shape.
func repoAppManifest(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "src", "plugin.json"))
	if os.IsNotExist(err) {
		t.Log("no src/plugin.json yet: checking the fixture of its shape")
		return []byte(appManifestFixture)
	}
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestAppManifestSchema(t *testing.T) {
	raw := repoAppManifest(t)
	validateManifest(t, compileSchema(t, []byte(pluginSchema), false), raw)
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.ID != "panelcast-app" || m.Type != "app" || !m.Backend || m.Executable != "gpx_panelcast_app" {
		t.Errorf("app identity: id %q type %q backend %v executable %q", m.ID, m.Type, m.Backend, m.Executable)
	}
}

func TestRendererManifestSchema(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "plugin.json"))
	if err != nil {
		t.Fatal(err)
	}
	validateManifest(t, compileSchema(t, []byte(pluginSchema), true), raw)
}

// refusals each break the app fixture in one field the validator's schema
// refuses; name is the schema property that refuses it.
var refusals = []struct {
	name   string
	change func(m map[string]any)
}{
	{"id pattern: a renderer id", func(m map[string]any) { m["id"] = "panelcast-renderer" }},
	{"id pattern: capitals", func(m map[string]any) { m["id"] = "Panelcast-app" }},
	{"type enum", func(m map[string]any) { m["type"] = "plugin" }},
	{"required name", func(m map[string]any) { delete(m, "name") }},
	{"required dependencies", func(m map[string]any) { delete(m, "dependencies") }},
	{"additionalProperties: unknown key", func(m map[string]any) { m["exe"] = "gpx" }},
	{"backend boolean", func(m map[string]any) { m["backend"] = "true" }},
	{"executable string", func(m map[string]any) { m["executable"] = true }},
	{"info.logos required", func(m map[string]any) { delete(info(m), "logos") }},
	{"info.logos.large required", func(m map[string]any) { delete(info(m)["logos"].(map[string]any), "large") }},
	{"info.keywords minItems", func(m map[string]any) { info(m)["keywords"] = []any{} }},
	{"info.version pattern", func(m map[string]any) { info(m)["version"] = "v4" }},
	{"info.updated pattern", func(m map[string]any) { info(m)["updated"] = "8 Dec 2026" }},
	{"info.links url format", func(m map[string]any) { info(m)["links"] = []any{map[string]any{"name": "x", "url": "not a uri"}} }},
	{"info additionalProperties", func(m map[string]any) { info(m)["homepage"] = "x" }},
	{"dependencies.grafanaDependency pattern", func(m map[string]any) { deps(m)["grafanaDependency"] = "12.2+" }},
	{"dependencies.grafanaDependency required", func(m map[string]any) { delete(deps(m), "grafanaDependency") }},
	{"extensions.addedLinks title minLength", func(m map[string]any) { link(m)["title"] = "Send" }},
	{"extensions.addedLinks targets required", func(m map[string]any) { delete(link(m), "targets") }},
	{"extensions.addedLinks targets strings", func(m map[string]any) { link(m)["targets"] = []any{1} }},
	{"includes type enum", func(m map[string]any) { m["includes"] = []any{map[string]any{"type": "tab"}} }},
}

// TestSchemaRefuses shows the derived schema holds what the validator
// would refuse.
func TestSchemaRefuses(t *testing.T) {
	checkRefusals(t, compileSchema(t, []byte(pluginSchema), false))
}

func checkRefusals(t *testing.T, s *jsonschema.Schema) {
	t.Helper()
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal([]byte(appManifestFixture), &m); err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(m); err != nil {
				t.Fatalf("the fixture itself fails: %v", err)
			}
			c.change(m)
			if err := s.Validate(m); err == nil {
				t.Errorf("accepted")
			}
		})
	}
}

func info(m map[string]any) map[string]any { return m["info"].(map[string]any) }
func deps(m map[string]any) map[string]any { return m["dependencies"].(map[string]any) }
func link(m map[string]any) map[string]any {
	return m["extensions"].(map[string]any)["addedLinks"].([]any)[0].(map[string]any)
}

// TestManifestsAgainstValidatorSchema checks both manifests against the
// validator's own config/plugin.schema.json when PANELCAST_VALIDATOR_SCHEMA
// names it (it is not committed here), so the derived schema can be held
// against its source.
func TestManifestsAgainstValidatorSchema(t *testing.T) {
	p := os.Getenv("PANELCAST_VALIDATOR_SCHEMA")
	if p == "" {
		t.Skip("PANELCAST_VALIDATOR_SCHEMA is not set (the plugin validator's config/plugin.schema.json)")
	}
	src, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("app", func(t *testing.T) {
		validateManifest(t, compileSchema(t, src, false), repoAppManifest(t))
	})
	t.Run("renderer", func(t *testing.T) {
		raw, err := os.ReadFile(filepath.Join("..", "..", "plugin.json"))
		if err != nil {
			t.Fatal(err)
		}
		validateManifest(t, compileSchema(t, src, true), raw)
	})
	t.Run("refusals", func(t *testing.T) {
		checkRefusals(t, compileSchema(t, src, false))
	})
}
