// Uploads with a progress bar: XMLHttpRequest reports upload progress; the server answers
// JSON ({ok, message} or {ok: false, errors}) to requests marked X-Requested-With.
(function () {
  document.querySelectorAll("form[data-upload]").forEach(function (form) {
    var bar = form.querySelector("[data-progress]");
    var status = form.querySelector("[data-status]");
    var button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", function (event) {
      if (!window.FormData || !window.XMLHttpRequest) { return; }  // plain form post instead
      event.preventDefault();
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      xhr.setRequestHeader("Accept", "application/json");
      bar.hidden = false; bar.value = 0; button.disabled = true; status.textContent = "";
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          bar.value = Math.round((e.loaded / e.total) * 100);
          status.textContent = bar.value + "%";
        }
      });
      xhr.addEventListener("load", function () {
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (err) { body = null; }
        button.disabled = false;
        if (body && body.ok) { window.location.reload(); return; }
        bar.hidden = true;
        if (body && body.errors) {
          status.textContent = Object.keys(body.errors).map(function (k) { return body.errors[k]; }).join(" ");
        } else {
          status.textContent = xhr.status + " " + xhr.statusText;
        }
        status.className = "error";
      });
      xhr.addEventListener("error", function () {
        button.disabled = false; bar.hidden = true;
        status.textContent = status.getAttribute("data-network-error") || "Network error";
        status.className = "error";
      });
      xhr.send(new FormData(form));
    });
  });
})();
