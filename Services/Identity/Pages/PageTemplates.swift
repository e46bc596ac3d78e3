/// identity's page templates (Mustache). A deployment can replace any of them
/// by putting a file of the same name (`login.mustache`, …) in
/// `KNOT_IDENTITY_TEMPLATES`; `{{…}}` escapes HTML, so values are safe by default.
enum PageTemplates {
    static let all: [String: String] = [
        "layout": """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{{title}} · {{brand}}</title>
            <style>
            :root{--accent:{{accent}}}
            body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;background:#f3f5f8;color:#1d2430;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
            main{background:#fff;padding:2rem 2.25rem;border-radius:12px;box-shadow:0 4px 24px rgba(20,30,50,.08);width:min(380px,90vw)}
            h1{font-size:1.35rem;margin:0 0 1.25rem}.brand{font-weight:700;color:var(--accent);letter-spacing:.02em;margin-bottom:.6rem}
            label{display:block;font-size:.85rem;margin:.8rem 0 .25rem;color:#4a5568}
            input{width:100%;box-sizing:border-box;padding:.55rem .65rem;border:1px solid #cbd2dc;border-radius:7px;font-size:1rem}
            input:focus,button:focus{outline:3px solid color-mix(in srgb,var(--accent) 40%,transparent);outline-offset:1px}
            button{margin-top:1.3rem;width:100%;padding:.6rem;border:0;border-radius:7px;background:var(--accent);color:#fff;font-size:1rem;cursor:pointer}
            button.secondary{background:#e6e9ef;color:#1d2430}
            .row{display:flex;gap:.75rem}.row button{flex:1}
            .msg{padding:.6rem .75rem;border-radius:7px;margin-bottom:1rem;font-size:.9rem}
            .error{background:#fdecec;color:#9b1c1c}.info{background:#e8f1ff;color:#1c3d8f}
            ul.scopes{padding-left:1.2rem;font-size:.92rem;line-height:1.6}
            p.alt{font-size:.85rem;margin-top:1.2rem;text-align:center}
            a{color:var(--accent)}
            </style></head><body><main><div class="brand">{{brand}}</div>{{{content}}}</main></body></html>
            """,
        "message": """
            <h1>{{heading}}</h1>{{#error}}<div class="msg error" role="alert">{{error}}</div>{{/error}}{{#info}}<div class="msg info" role="status">{{info}}</div>{{/info}}
            {{#link}}<p class="alt"><a href="{{href}}">{{text}}</a></p>{{/link}}
            """,
        "login": """
            <h1>Sign in</h1>{{#error}}<div class="msg error" role="alert">{{error}}</div>{{/error}}{{#info}}<div class="msg info" role="status">{{info}}</div>{{/info}}
            <form method="post" action="/auth/login">
            <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="next" value="{{next}}">
            <label for="username">Username</label><input id="username" name="username" value="{{username}}" autocomplete="username" required autofocus>
            <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
            <button type="submit">Sign in</button></form>
            {{#upstream}}<form method="get" action="/auth/upstream/start"><input type="hidden" name="next" value="{{next}}"><button class="secondary" type="submit">Sign in with {{upstream}}</button></form>{{/upstream}}
            <p class="alt">No account? <a href="/auth/signup">Sign up</a></p>
            """,
        "signup": """
            <h1>Create an account</h1>{{#error}}<div class="msg error" role="alert">{{error}}</div>{{/error}}
            <form method="post" action="/auth/signup"><input type="hidden" name="csrf" value="{{csrf}}">
            <label for="username">Username</label><input id="username" name="username" value="{{username}}" autocomplete="username" required pattern="[a-z][\\-a-z0-9]{1,31}" aria-describedby="username-help">
            <small id="username-help">Lowercase letters, digits and dashes; it becomes part of your addresses.</small>
            <label for="email">Email</label><input id="email" name="email" type="email" value="{{email}}" autocomplete="email" required>
            <label for="full_name">Full name</label><input id="full_name" name="full_name" value="{{fullName}}" autocomplete="name">
            <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="new-password" minlength="10" required>
            <button type="submit">Sign up</button></form>
            <p class="alt">Have an account? <a href="/auth/login">Sign in</a></p>
            """,
        "password": """
            <h1>Change password</h1>{{#error}}<div class="msg error" role="alert">{{error}}</div>{{/error}}{{#info}}<div class="msg info" role="status">{{info}}</div>{{/info}}
            <form method="post" action="/auth/password"><input type="hidden" name="csrf" value="{{csrf}}">
            <label for="current_password">Current password</label><input id="current_password" name="current_password" type="password" autocomplete="current-password" required>
            <label for="new_password">New password</label><input id="new_password" name="new_password" type="password" autocomplete="new-password" minlength="10" required>
            <button type="submit">Change password</button></form>
            <p class="alt"><a href="/">Back to the dashboard</a></p>
            """,
        "consent": """
            <h1>Allow {{client}}?</h1>
            <p><strong>{{client}}</strong> asks to sign you in as <strong>{{username}}</strong> and to read:</p>
            <ul class="scopes">{{#scopes}}<li>{{.}}</li>{{/scopes}}</ul>
            <form method="post" action="/auth/oidc/consent">
            <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="request" value="{{request}}">
            <div class="row"><button class="secondary" type="submit" name="decision" value="deny">Deny</button>
            <button type="submit" name="decision" value="allow">Allow</button></div></form>
            """,
        "logout": """
            <h1>Sign out?</h1><p>{{#client}}<strong>{{client}}</strong> asks to sign you out of {{brand}}.{{/client}}{{^client}}Sign out of {{brand}} on this browser?{{/client}}</p>
            <form method="post" action="/auth/oidc/logout">
            <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="request" value="{{request}}">
            <div class="row"><button class="secondary" type="submit" name="decision" value="stay">Stay signed in</button>
            <button type="submit" name="decision" value="logout">Sign out</button></div></form>
            """,
    ]
}
