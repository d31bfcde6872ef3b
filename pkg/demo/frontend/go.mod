// A module of its own only so that the Go packages some npm packages ship
// in node_modules/ stay out of panelcast's ./... (go vet, go test).
module github.com/panelcast/panelcast/pkg/demo/frontend

go 1.22
