package render

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sync"
)

// pipeConn carries DevTools messages over Chromium's --remote-debugging-pipe:
// the browser reads commands from its fd 3 and writes answers and events to
// its fd 4, each message a JSON text ended by a NUL byte. JSON escapes NUL
// inside strings, so the byte never occurs within a message. It is go-rod's
// cdp.WebSocketable, so the browser needs no DevTools port that another
// local user could connect to.
type pipeConn struct {
	mu sync.Mutex // go-rod sends from many goroutines
	w  io.Writer
	r  *bufio.Reader
	// broken is called, before the error is returned, when a read or write
	// fails: the browser is gone, and go-rod fails only the calls it is
	// waiting for at that moment, so the owner must end the others.
	broken func()
}

func newPipeConn(toBrowser io.Writer, fromBrowser io.Reader, broken func()) *pipeConn {
	return &pipeConn{w: toBrowser, r: bufio.NewReaderSize(fromBrowser, 64<<10), broken: broken}
}

// Send writes one message and its terminator in one write, so messages from
// concurrent callers never interleave.
func (p *pipeConn) Send(msg []byte) error {
	buf := make([]byte, len(msg)+1)
	copy(buf, msg)
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.w.Write(buf); err != nil {
		p.broken()
		return fmt.Errorf("write to the browser's DevTools pipe: %w", err)
	}
	return nil
}

// errPipeClosed is what Read returns once the browser closed its end.
var errPipeClosed = errors.New("the browser closed its DevTools pipe")

// Read returns the next message without its terminator. Only go-rod's one
// reader goroutine calls it. A message cut off by the end of the stream is
// an error, never a message: go-rod panics on JSON it cannot parse.
func (p *pipeConn) Read() ([]byte, error) {
	msg, err := p.r.ReadBytes(0)
	if err != nil {
		p.broken()
		if errors.Is(err, io.EOF) {
			return nil, errPipeClosed
		}
		return nil, fmt.Errorf("read from the browser's DevTools pipe: %w", err)
	}
	return msg[:len(msg)-1], nil
}
