from hub.cli.start import main

main()
