"""External feeds that turn into notifications: JMA 防災情報XML and river levels."""
