// Ticks every countdown on the page from its data-due attribute (ISO 8601), in the same
// words as the server's `countdown` filter: "2 d 03 h left", "5 h 10 min late".
(function () {
  "use strict";
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function words(ms) {
    var seconds = Math.floor(Math.abs(ms) / 1000);
    var days = Math.floor(seconds / 86400);
    var hours = Math.floor((seconds % 86400) / 3600);
    var minutes = Math.floor((seconds % 3600) / 60);
    var text = days ? days + " d " + pad(hours) + " h" : hours + " h " + pad(minutes) + " min";
    return text + (ms < 0 ? " late" : " left");
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (cell) {
      var due = Date.parse(cell.getAttribute("data-due"));
      if (isNaN(due)) { return; }
      var remaining = due - now;
      cell.textContent = words(remaining);
      cell.classList.toggle("late", remaining < 0);
      cell.classList.toggle("soon", remaining >= 0);
    });
  }
  tick();
  window.setInterval(tick, 1000);
})();
