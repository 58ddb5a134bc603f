// The sign-in form of /login. A file of its own, not inline, so the page's
// Content-Security-Policy can allow scripts from this origin only.
document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const next = new URLSearchParams(location.search).get("next");
  const response = await fetch("/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: form.get("email"), password: form.get("password"), next }),
  });
  const result = document.getElementById("result");
  if (response.ok) {
    // The server names `next` only when it is a path on this site.
    const body = await response.json();
    if (typeof body.next === "string") {
      location.assign(body.next);
      return;
    }
    result.innerHTML = 'Signed in. Open <a href="/audit-logs/ui">the audit log</a> (owners and admins), ' +
      'its JSON at <a href="/audit-logs">/audit-logs</a>, or ' +
      '<a href="/audit-logs/export?format=csv">download a CSV export</a>.';
  } else {
    result.textContent = "Invalid email or password.";
  }
});
