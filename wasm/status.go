//go:build js && wasm

package main

import (
	"encoding/json"

	"github.com/swarmgate/swarmgate/internal/client"
)

func statusJSON(s client.Status) string {
	b, _ := json.Marshal(s)
	return string(b)
}
