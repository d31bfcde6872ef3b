// node_modules lies inside the Go module (go.mod at the repository root),
// and some npm packages carry .go files (flatted does): `go vet ./...`,
// `go test ./...` and golangci-lint would take them for Panelcast's own
// packages. A go.mod of its own makes node_modules another module, which
// ./... leaves out. Runs after every npm install / npm ci.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
await writeFile(path.join(root, 'node_modules', 'go.mod'), 'module panelcast.invalid/node_modules\n');
