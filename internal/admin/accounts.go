package admin

import (
	"net/http"
	"net/url"
)

// listAccounts: GET /api/v1/accounts?limit=&after=.
func (a *api) listAccounts(w http.ResponseWriter, r *http.Request) {
	after, limit, perr := page(r)
	if perr != nil {
		writeError(w, perr)
		return
	}
	names, more, err := a.b.ListAccounts(r.Context(), after, limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	type entry struct {
		Username string `json:"username"`
		Presence
	}
	resp := struct {
		Accounts []entry `json:"accounts"`
		Next     string  `json:"next,omitempty"`
	}{Accounts: make([]entry, 0, len(names))}
	for _, n := range names {
		resp.Accounts = append(resp.Accounts, entry{n, a.b.Presence(n)})
	}
	if more && len(names) > 0 {
		resp.Next = names[len(names)-1]
	}
	writeJSON(w, http.StatusOK, resp)
}

// createAccount: POST /api/v1/accounts {"username", "password"}.
func (a *api) createAccount(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := decode(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	for _, e := range []*Error{required("username", req.Username), required("password", req.Password)} {
		if e != nil {
			writeError(w, e)
			return
		}
	}
	acct, err := a.b.CreateAccount(r.Context(), req.Username, req.Password)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("account created", "account", acct.Username, "via", "admin api")
	w.Header().Set("Location", "/api/v1/accounts/"+url.PathEscape(acct.Username))
	writeJSON(w, http.StatusCreated, acct)
}

// getAccount: GET /api/v1/accounts/{username}.
func (a *api) getAccount(w http.ResponseWriter, r *http.Request) {
	acct, err := a.b.Account(r.Context(), r.PathValue("username"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, acct)
}

// setPassword: PUT /api/v1/accounts/{username}/password {"password"}.
func (a *api) setPassword(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Password string `json:"password"`
	}
	if err := decode(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	if e := required("password", req.Password); e != nil {
		writeError(w, e)
		return
	}
	name := r.PathValue("username")
	if err := a.b.SetPassword(r.Context(), name, req.Password); err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("password changed", "account", name, "via", "admin api")
	w.WriteHeader(http.StatusNoContent)
}

// setLoginPolicy: PUT /api/v1/accounts/{username}/login-policy {"policy"}.
func (a *api) setLoginPolicy(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Policy string `json:"policy"`
	}
	if err := decode(w, r, &req); err != nil {
		writeError(w, err)
		return
	}
	switch req.Policy {
	case LoginPassword, LoginCertificate, LoginBoth:
	default:
		writeError(w, Errorf(CodeBadRequest, "policy must be %s, %s or %s", LoginPassword, LoginCertificate, LoginBoth))
		return
	}
	name := r.PathValue("username")
	if err := a.b.SetLoginPolicy(r.Context(), name, req.Policy); err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("login policy set", "account", name, "policy", req.Policy, "via", "admin api")
	w.WriteHeader(http.StatusNoContent)
}

// deleteAccount: DELETE /api/v1/accounts/{username}.
func (a *api) deleteAccount(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("username")
	if err := a.b.DeleteAccount(r.Context(), name); err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.Info("account deleted", "account", name, "via", "admin api")
	w.WriteHeader(http.StatusNoContent)
}
