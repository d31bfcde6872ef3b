package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/panelcast/panelcast/pkg/service"
)

// MaxUpload bounds a push with its picture. Through Grafana a resource
// call's body travels in one gRPC message, which the plugin SDK's server
// takes up to 16 MiB (backend/serve.go, defaultServerMaxReceiveMessageSize);
// a larger one never arrives. 15 MiB leaves room for the rest of the
// message, and is above any chat's own limit for a picture.
const MaxUpload = 15 << 20

// errUploadTooBig marks an upload over MaxUpload (413).
var errUploadTooBig = fmt.Errorf("the upload is over %d MiB, the most Grafana passes to a plugin in one call: send a smaller picture (a lower width, height or scale)", MaxUpload>>20)

// decodeUpload reads a multipart/form-data push: a part "request" with the
// push's JSON, as POST /push takes it, and a part "picture", an image/png
// that is sent as it is.
func decodeUpload(r *http.Request, body io.Reader) (service.PushRequest, error) {
	r.Body = io.NopCloser(body)
	mr, err := r.MultipartReader()
	if err != nil {
		return service.PushRequest{}, fmt.Errorf("the body is not multipart/form-data (%v): send the parts request (the push's JSON) and picture (image/png)", err)
	}
	var req service.PushRequest
	var haveRequest bool
	var picture []byte
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return req, uploadError(err)
		}
		switch part.FormName() {
		case "request":
			if haveRequest {
				return req, errors.New("the part request is given twice: send one")
			}
			haveRequest = true
			if req, err = decode(io.LimitReader(part, maxBody)); err != nil {
				return req, fmt.Errorf("the part request: %w", err)
			}
		case "picture":
			if picture != nil {
				return req, errors.New("the part picture is given twice: send one PNG")
			}
			if mt, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type")); mt != "image/png" {
				return req, fmt.Errorf("the part picture is %q, not image/png: send the panel as a PNG", part.Header.Get("Content-Type"))
			}
			var b bytes.Buffer
			if _, err := b.ReadFrom(part); err != nil {
				return req, uploadError(err)
			}
			picture = b.Bytes()
			if picture == nil {
				picture = []byte{}
			}
		default:
			return req, fmt.Errorf("%q is not a part of a push: send request (the push's JSON) and picture (image/png)", part.FormName())
		}
	}
	if !haveRequest {
		return req, errors.New(`the part request is missing: send the push's JSON in it, e.g. {"to": "slack:#ops", "text": "CPU"}`)
	}
	if picture == nil {
		return req, errors.New("the part picture is missing: send the panel as image/png, or the push as JSON alone to have it rendered")
	}
	req.Picture = picture
	return req, nil
}

func uploadError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errUploadTooBig
	}
	return fmt.Errorf("reading the upload failed (%v): send multipart/form-data with the parts request and picture", err)
}
