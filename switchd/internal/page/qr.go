package page

import (
	"fmt"

	qrcode "github.com/skip2/go-qrcode"
)

// QRSize is the edge of the QR code PNG in pixels: large enough for a phone
// camera at arm's length from a counter display.
const QRSize = 320

// QRCode returns a PNG QR code that encodes the payment page URL, for an
// offline store to show at the counter. Error correction is medium (15%),
// which survives glare and a scuffed screen at this size.
func QRCode(pageURL string) ([]byte, error) {
	png, err := qrcode.Encode(pageURL, qrcode.Medium, QRSize)
	if err != nil {
		return nil, fmt.Errorf("page: encode QR code: %w", err)
	}
	return png, nil
}
