/**
 * The sign-in page: the token goes in a JSON POST body (never a URL); the answer sets the
 * HttpOnly, SameSite=Strict session cookie, then the status page opens.
 */
export function signInPage(hostname: string): string {
  const name = hostname.replace(/[&<>"']/g, '');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Switchyard — sign in — ${name}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:14px/1.45 system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1d2433}
form{max-width:360px;margin:80px auto;background:#fff;padding:20px 24px;border-radius:6px;box-shadow:0 1px 2px #0002;display:grid;gap:10px}
h1{font-size:18px;margin:0} .bad{color:#b3261e;min-height:1.4em}</style></head>
<body><form id="signin"><h1>Switchyard — ${name}</h1>
<label for="token">Admin token (admin.tokenEnv)</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button><div id="error" class="bad" role="alert"></div></form>
<script>
document.getElementById('signin').addEventListener('submit', async (e) => {
  e.preventDefault();
  const r = await fetch('api/signin', { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: document.getElementById('token').value }) });
  if (r.ok) location.href = './';
  else document.getElementById('error').textContent = (await r.json().catch(() => ({}))).error || ('HTTP ' + r.status);
});
</script></body></html>`;
}
