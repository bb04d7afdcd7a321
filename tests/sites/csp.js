document.getElementById("csp-status").textContent = "script ran";
