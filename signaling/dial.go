//go:build !js

package signaling

import (
	"context"
	"net/http"

	"github.com/gorilla/websocket"
)

// dial opens a WebSocket to url with gorilla/websocket.
func dial(ctx context.Context, url string, cfg ClientConfig) (Conn, error) {
	d := websocket.Dialer{ReadBufferSize: 1024, WriteBufferSize: 4096, NetDialContext: cfg.NetDialContext}
	var h http.Header
	if cfg.Origin != "" {
		h = http.Header{"Origin": {cfg.Origin}}
	}
	c, resp, err := d.DialContext(ctx, url, h)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(clientReadLimit)
	return &WebSocketConn{c: c}, nil
}
