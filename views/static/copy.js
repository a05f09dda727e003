// The console's copy buttons (console/clients.ts: a secret shown once). A button `data-copy="<id>"` copies the text
// of the element with that id. Loaded as a file, never inline: the Content-Security-Policy allows same-origin
// scripts only (docs/SECURITY.md, "Content-Security-Policy"). Without script the button stays hidden.
for (const button of document.querySelectorAll('button[data-copy]')) {
  const source = document.getElementById(button.dataset.copy);
  if (!source) continue;
  const label = button.textContent;
  button.hidden = false;
  button.addEventListener('click', async () => {
    const text = source.textContent.trim();
    let copied = false;
    try {
      // Only in a secure context (https, or http on localhost).
      await navigator.clipboard.writeText(text);
      copied = true;
    } catch {
      // Plain http elsewhere: select the text and use the older copy command.
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      copied = document.execCommand('copy');
    }
    button.textContent = copied ? 'Copied' : 'Select and copy it by hand';
    setTimeout(() => (button.textContent = label), 4000);
  });
}
