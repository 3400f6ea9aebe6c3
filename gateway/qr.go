package gateway

import (
	"net/http"
	"regexp"

	qrcode "github.com/skip2/go-qrcode"
)

// hostRE accepts what a Host header may honestly hold (a name or an
// address, with a port); anything else is not put into a code.
var hostRE = regexp.MustCompile(`^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?$`)

// serveQR is /qr/<root-hex>?...: a PNG QR code of the link page's
// absolute URL on this gateway, for a phone to scan off a desktop screen.
func (g *Gateway) serveQR(w http.ResponseWriter, r *http.Request) {
	l, err := parseLink(r, "/qr/")
	if err != nil {
		g.fail(w, r, http.StatusBadRequest, "Not a content link", err.Error())
		return
	}
	host := r.Host
	if g.cfg.Domain != "" {
		host = g.cfg.Domain
	}
	if !hostRE.MatchString(host) {
		g.fail(w, r, http.StatusBadRequest, "Bad Host header", "the request's Host is not a host name or address")
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	l.Peer, l.Gateway = "", ""
	png, err := qrcode.Encode(scheme+"://"+host+l.Path(), qrcode.Medium, 320)
	if err != nil {
		g.fail(w, r, http.StatusBadRequest, "Link too long for a QR code", err.Error())
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(png)
}
