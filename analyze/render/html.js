// Optional: clicking a summary card hides or shows that status.
document.querySelectorAll('.card').forEach(function (c) {
  c.addEventListener('click', function () {
    var off = c.classList.toggle('off');
    document.querySelectorAll('[data-status="' + c.dataset.status + '"]').forEach(function (e) {
      if (e !== c) { e.classList.toggle('hidden', off); }
    });
  });
});
