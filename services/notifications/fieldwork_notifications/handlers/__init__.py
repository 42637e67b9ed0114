"""The service's handlers, one module per source domain (DESIGN.md §6): each
holds a mixin of the one service class (`fieldwork_notifications.service`).
A module here imports no other; they share the email machinery
(`fieldwork_notifications.emails`) and the domain rules."""
