package slackfake

import (
	"encoding/base64"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// archivePage is what a permalink opens in the fake: the message as a
// channel shows it (the bot's name, its time, the text, the files inline),
// so that a browser test can follow "Open in chat" and look at what
// arrived. It is plainly marked as the fake, not Slack's own look.
var archivePage = template.Must(template.New("archive").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>#{{.Channel}} – Slack fake</title>
<style>
body { margin: 0; font: 15px/1.46 system-ui, sans-serif; background: #fff; color: #1d1c1d; }
header { padding: 12px 20px; border-bottom: 1px solid #ddd; font-weight: 700; font-size: 18px; }
header small { font-weight: 400; color: #616061; font-size: 13px; margin-left: 8px; }
.msg { display: flex; gap: 10px; padding: 12px 20px; }
.avatar { width: 36px; height: 36px; border-radius: 6px; background: #f46800; color: #fff; font-weight: 700; display: flex; align-items: center; justify-content: center; }
.who { font-weight: 900; } .app { background: #e8e8e8; color: #616061; font-size: 10px; font-weight: 700; padding: 1px 3px; border-radius: 2px; margin: 0 4px; }
.when { color: #616061; font-size: 12px; }
.text { white-space: pre-wrap; margin: 2px 0 6px; }
.file { border: 1px solid #ddd; border-radius: 8px; max-width: 720px; overflow: hidden; }
.file img { display: block; width: 100%; }
.file div { padding: 4px 8px; color: #616061; font-size: 13px; }
</style></head>
<body><header>#{{.Channel}}<small>the Slack fake's view of one message (internal/fakechat/slackfake)</small></header>
<div class="msg"><div class="avatar">P</div><div>
<div><span class="who">{{.Bot}}</span><span class="app">APP</span><span class="when">{{.When}}</span></div>
{{if .Text}}<div class="text">{{.Text}}</div>{{end}}
{{range .Files}}<div class="file"><img alt="{{.Alt}}" src="{{.Src}}"><div>{{.Name}}</div></div>{{end}}
</div></div></body></html>
`))

// serveArchive answers a permalink (/archives/<channel>/p<ts digits>) with
// archivePage, or 404 when no such message exists.
func (s *Server) serveArchive(w http.ResponseWriter, r *http.Request, rest string) {
	id, p, ok := strings.Cut(rest, "/p")
	if !ok {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	var found *Message
	for i := range s.messages {
		m := &s.messages[i]
		if m.ChannelID == id && strings.ReplaceAll(m.TS, ".", "") == p {
			found = m
			break
		}
	}
	var c *channel
	if found != nil {
		c = s.channelByID(id)
	}
	type file struct {
		Alt, Name string
		Src       template.URL
	}
	var data struct {
		Channel, Bot, When, Text string
		Files                    []file
	}
	if found != nil && c != nil {
		data.Channel, data.Bot, data.Text = c.name, s.botName, found.Text
		if sec, err := strconv.ParseInt(strings.SplitN(found.TS, ".", 2)[0], 10, 64); err == nil {
			data.When = time.Unix(sec, 0).UTC().Format("15:04 UTC")
		}
		for _, f := range found.Files {
			data.Files = append(data.Files, file{Alt: f.AltText, Name: f.Name,
				Src: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(f.Data))})
		}
	}
	s.mu.Unlock()
	if found == nil || c == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = archivePage.Execute(w, data)
}
