from jadis.cli.main import main

main()
