from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0017_predictions"),
    ]

    operations = [
        migrations.AddField(
            model_name="jobaggregate",
            name="item_scores",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="Pairwise jobs: the score of each compared id (Bradley-Terry), id -> score.",
            ),
        ),
    ]
