/** A placeholder until the dashboard's assets are embedded. */
export const HOME_PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Shiioo</title>
    <style>body { font-family: system-ui, sans-serif; margin: 4rem auto; max-width: 36rem; padding: 0 1rem; }</style>
  </head>
  <body>
    <h1>Shiioo</h1>
    <p>Shiioo — dashboard coming soon.</p>
    <p>Server status: <a href="/api/health">/api/health</a></p>
  </body>
</html>
`
