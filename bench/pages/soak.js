// A page that never stops changing, like a live order tracker: a text change every
// 100 ms, a row's status every 250 ms, and a row added and one removed every 2 s.
const items = ["USB-C cable", "Desk lamp", "Dune (paperback)", "Coffee beans", "Headphones", "Notebook"];
const statuses = ["ordered", "packed", "shipped", "late", "delivered"];
const body = document.querySelector("#orders tbody");
let next = 1;
function addRow() {
  const row = document.createElement("tr");
  const n = next++;
  row.innerHTML = `<td>${n}</td><td>${items[n % items.length]}</td><td>ordered</td><td>$${(n * 7.31) % 200 | 0}.99</td>`;
  body.appendChild(row);
}
for (let i = 0; i < 300; i++) addRow();
setInterval(() => { document.getElementById("clock").textContent = new Date().toISOString(); }, 100);
setInterval(() => {
  const rows = body.rows;
  const row = rows[Math.floor(Math.random() * rows.length)];
  const status = statuses[Math.floor(Math.random() * statuses.length)];
  row.cells[2].textContent = status;
  row.className = status;
}, 250);
setInterval(() => { addRow(); body.deleteRow(0); }, 2000);
