//go:build js

package dhtnet

import "errors"

func openContactStore(path string) (contactStore, error) {
	return nil, errors.New("dhtnet: no SQLite routing-table store on js")
}
