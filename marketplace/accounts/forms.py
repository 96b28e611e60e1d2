from django import forms
from django.http import HttpRequest

from marketplace.accounts.models import User


class SignupRolesForm(forms.Form):
    """Extra sign-up fields, used by allauth's sign-up (HTML and headless API): which roles the user takes."""

    is_requester = forms.BooleanField(required=False, label="Requester", help_text="Post and fund jobs.")
    is_worker = forms.BooleanField(required=False, label="Worker", help_text="Take tests and work on jobs.")

    def signup(self, request: HttpRequest, user: User) -> None:
        user.is_requester = self.cleaned_data.get("is_requester", False)
        user.is_worker = self.cleaned_data.get("is_worker", False)
        user.save(update_fields=["is_requester", "is_worker"])
