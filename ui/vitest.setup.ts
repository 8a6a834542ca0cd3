// Every date test is read in the UK time zone, whatever the machine's own.
process.env.TZ = "Europe/London";
