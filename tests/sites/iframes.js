document.getElementById("cross").src = document.body.dataset.other + "/other.html";
