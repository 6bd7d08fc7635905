// chemtrace console: small progressive enhancements (no inline scripts; CSP script-src 'self')
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("input.select-all").forEach(function (box) {
    box.addEventListener("change", function () {
      var scope = document.getElementById(box.dataset.scope);
      if (!scope) return;
      scope.querySelectorAll('input[name="ids"]').forEach(function (item) { item.checked = box.checked; });
    });
  });
  var print = document.getElementById("print");
  if (print) print.addEventListener("click", function () { window.print(); });
});
