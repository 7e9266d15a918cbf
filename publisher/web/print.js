// The print page's one button (no inline script: the page's CSP forbids it).
"use strict";
document.getElementById("print").addEventListener("click", () => window.print());
