// Optional: clicking a summary card hides or shows that status.
document.querySelectorAll('.card').forEach(function (c) {
  c.addEventListener('click', function () {
    var off = c.classList.toggle('off');
    document.querySelectorAll('[data-status="' + c.dataset.status + '"]').forEach(function (e) {
      if (e !== c) { e.classList.toggle('hidden', off); }
    });
  });
});
// Printing shows every <details> (evidence, vendor text, long peer lists)
// open, then closes again those that were closed.
var printOpened = [];
window.addEventListener('beforeprint', function () {
  document.querySelectorAll('details:not([open])').forEach(function (d) { d.open = true; printOpened.push(d); });
});
window.addEventListener('afterprint', function () {
  printOpened.forEach(function (d) { d.open = false; });
  printOpened = [];
});
