// The HQ policy page: reload only the figures (the path in the script's data-figures, under the page's
// own), every 5 s, so an answer or a reason being typed is kept.
const figuresPath = document.currentScript.dataset.figures;
setInterval(async () => {
  const r = await fetch(location.pathname + figuresPath, {credentials: "same-origin"});
  if (r.ok && !r.redirected) document.getElementById("figures").outerHTML = await r.text();  // not the login page
}, 5000);
