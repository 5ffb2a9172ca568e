package web

import (
	"net/http"

	"github.com/havendns/haven/api"
)

type loginPage struct {
	base
	Error string
	Next  string
	Field string // the password field's name
}

// login shows the login form; api.Server checks what it posts.
func (c *console) login(w http.ResponseWriter, r *http.Request) {
	if _, ok := api.SessionFrom(r.Context()); ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	q := r.URL.Query()
	p := loginPage{base: base{Title: "Log in", Flash: flash(q)}, Field: api.PasswordField, Next: api.LocalPath(q.Get(api.NextField))}
	switch q.Get("error") {
	case api.LoginInvalid:
		p.Error = "Wrong password."
	case api.LoginLimited:
		p.Error = "Too many attempts. Wait a minute, then try again."
	case api.LoginDisabled:
		p.Error = "The console has no password yet. Set one with haven password (console.password_hash in the config), or give Haven a data_dir and restart it: it then makes one and writes it to its log."
	}
	c.render(w, http.StatusOK, "login", p)
}
