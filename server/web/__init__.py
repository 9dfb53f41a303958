"""The web app: page addresses (server.web.pages), the chat as the page shows it (server.web.chat), the one
Markdown renderer (server.web.markdown). The pages' script and styles are in server/static."""

from server.web.pages import router

__all__ = ["router"]
